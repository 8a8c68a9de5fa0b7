/**
 * Policy language benchmarks: full parse + validate against hcl2-parser (HashiCorp's HCL
 * compiled to JavaScript) on the same text in the same run, and typing latency through
 * the real language server (didChange -> publishDiagnostics) on a 50-policy file.
 */
import path from 'node:path';
import { buildSync } from 'esbuild';
import { LspClient } from '../test/support/lspClient';
import { policyFile } from './policyFiles';
import { summarize, ms } from './stats';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hcl2 = require('hcl2-parser') as { parseToObject(text: string): [unknown, unknown] };

function time(fn: () => void, runs: number): number[] {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return samples;
}

export interface PolicyBenchResult {
  rows: { policies: number; bytes: number; mayflyMs: number; hcl2Ms: number; ratio: number }[];
  typing: ReturnType<typeof summarize>;
}

/** The policy core bundled as it ships (dist/ is esbuild output too), not run through tsx. */
function bundledCore(): typeof import('../policy') {
  const out = path.resolve(__dirname, '..', 'out', 'bench', 'policy.js');
  buildSync({ entryPoints: [path.resolve(__dirname, '..', 'policy', 'index.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: out, logLevel: 'warning' });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(out) as typeof import('../policy');
}

/** The language server's own flags (extension/languageClient.ts), for the typing measurement. */
const SERVER_EXEC_ARGV = ['--max-semi-space-size=32'];

export async function runPolicyBench(log: (line: string) => void): Promise<PolicyBenchResult> {
  const { analyzePolicies } = bundledCore();
  const rows: PolicyBenchResult['rows'] = [];
  for (const count of [50, 1000, 5000]) {
    const text = policyFile(count);
    const check = analyzePolicies(text);
    if (check.diagnostics.some((d) => d.severity === 'error')) throw new Error('benchmark file has errors');
    time(() => analyzePolicies(text), 3); // warm-up
    const ours = summarize(time(() => analyzePolicies(text), count >= 5000 ? 21 : 41)).p50;
    const theirs = summarize(time(() => hcl2.parseToObject(text), count >= 5000 ? 2 : count >= 1000 ? 3 : 10)).p50;
    rows.push({ policies: count, bytes: text.length, mayflyMs: ours, hcl2Ms: theirs, ratio: theirs / ours });
    log(`  ${count} policies (${(text.length / 1024).toFixed(0)} KiB): mayfly ${ms(ours)} ms, hcl2-parser ${ms(theirs)} ms, ${(theirs / ours).toFixed(0)}x`);
  }

  const client = new LspClient(SERVER_EXEC_ARGV);
  await client.initialize({});
  const uri = 'file:///bench/typing.policy.hcl';
  let text = policyFile(50);
  await client.open(uri, text, 1);
  const samples: number[] = [];
  for (let v = 2; v < 202; v++) {
    // Type one character at a time into a privilege list, as a person would.
    text = v % 2 ? text.replace('"SELECTX"', '"SELECT"') : text.replace('"SELECT"', '"SELECTX"');
    const t = process.hrtime.bigint();
    await client.change(uri, text, v);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  await client.close();
  const typing = summarize(samples.slice(20));
  log(`  typing latency, 50 policies (didChange -> publishDiagnostics): p50 ${ms(typing.p50)} ms, p99 ${ms(typing.p99)} ms`);
  return { rows, typing };
}
