/** policy text -> parsed -> validated: the one entry point the language server and the proxy share. */
import { parseHcl } from './hcl';
import type { Diagnostic } from './hcl/ast';
import type { AnalyzeOptions, PolicyDocument } from './model';
import { validateAcross, validateBody } from './schema';

export function analyzePolicies(text: string, options: AnalyzeOptions = {}): PolicyDocument {
  const parse = parseHcl(text);
  const diagnostics: Diagnostic[] = [...parse.diagnostics];
  const sink = (d: Diagnostic): void => {
    diagnostics.push(d);
  };
  const policies = validateBody(parse.body, options, sink);
  validateAcross(policies, sink);
  diagnostics.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  markInvalid(policies, diagnostics);
  return { parse, policies, diagnostics };
}

/**
 * A policy with an error inside it is not usable; its first error is the reason shown in
 * pickers. Policies come in source order and diagnostics are sorted, so one merge pass
 * does it (a search per policy made 5,000-policy files quadratic).
 */
function markInvalid(policies: PolicyDocument['policies'], sorted: Diagnostic[]): void {
  let i = 0;
  for (const p of policies) {
    while (i < sorted.length && sorted[i]!.span.start < p.span.start) i++;
    for (let j = i; j < sorted.length && sorted[j]!.span.start <= p.span.end; j++) {
      const d = sorted[j]!;
      if (d.severity === 'error' && d.span.end <= p.span.end) {
        p.valid = false;
        p.problem = `${d.summary}: ${d.detail}`;
        break;
      }
    }
  }
}
