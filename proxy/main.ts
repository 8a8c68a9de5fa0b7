/** Entry point of dist/proxy.js: the `mayfly` CLI (which also runs the proxy process). */
import { runCli } from './cli/main';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`mayfly: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
