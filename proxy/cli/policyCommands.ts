/** `mayfly policy check|show`: the policy language for CI pipelines. */
import fs from 'node:fs';
import { analyzePolicies, LineIndex } from '../../policy';
import { describePolicy } from '../../policy/summary';
import type { Output } from './output';

export function policyCheck(files: string[], knownEntries: string[] | undefined, out: Output): number {
  if (files.length === 0) {
    out.err('usage: mayfly policy check FILE...');
    return 2;
  }
  let errors = 0;
  let warnings = 0;
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      out.err(`${file}: error: cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      errors++;
      continue;
    }
    const lines = new LineIndex(text);
    for (const d of analyzePolicies(text, { knownEntries }).diagnostics) {
      const pos = lines.position(d.span.start);
      const level = d.severity === 'information' || d.severity === 'hint' ? 'info' : d.severity;
      if (d.severity === 'error') errors++;
      if (d.severity === 'warning') warnings++;
      out.log(`${file}:${pos.line + 1}:${pos.character + 1}: ${level}: ${d.summary}: ${d.detail} [${d.code}]`);
    }
  }
  out.err(`${files.length} file${files.length === 1 ? '' : 's'} checked: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  return errors > 0 ? 1 : 0;
}

export function policyShow(file: string | undefined, json: boolean, out: Output): number {
  if (!file) {
    out.err('usage: mayfly policy show FILE [--json]');
    return 2;
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    out.err(`${file}: error: cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return 1;
  }
  const analysis = analyzePolicies(text);
  const summaries = analysis.policies.map(describePolicy);
  if (json) {
    out.log(JSON.stringify(summaries, null, 2));
  } else {
    for (const s of summaries) {
      out.log(`policy "${s.name}"${s.valid ? '' : `  (invalid: ${s.problem})`}`);
      if (s.sessionUser) out.log(`  session role: ${s.sessionUser}`);
      out.log(`  expiration:   ${s.expiration}`);
      if (s.pluginConfigEntry) out.log(`  entry:        ${s.pluginConfigEntry}`);
      for (const g of s.grants) out.log(`  ${g.database}.${g.schema}: ${g.privileges.join(', ')}`);
    }
  }
  return analysis.diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
}
