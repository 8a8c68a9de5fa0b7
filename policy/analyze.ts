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
  for (const p of policies) {
    const inside = diagnostics.find(
      (d) => d.severity === 'error' && d.span.start >= p.span.start && d.span.end <= p.span.end,
    );
    if (inside) {
      p.valid = false;
      p.problem = `${inside.summary}: ${inside.detail}`;
    }
  }
  diagnostics.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  return { parse, policies, diagnostics };
}
