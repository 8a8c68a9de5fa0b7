// Bundles each entry point into one file so the extension, the language server and
// the proxy/CLI run without node_modules (the .vsix ships dist/ only).
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  // pg optionally requires pg-native; we never use it.
  external: ['vscode', 'pg-native'],
};

await Promise.all([
  build({ ...common, entryPoints: ['extension/extension.ts'], outfile: 'dist/extension.js' }),
  build({ ...common, entryPoints: ['language-server/server.ts'], outfile: 'dist/server.js' }),
  // dist/proxy.js is also the script of the user-loading worker thread (proxy/users/worker/):
  // a thread started with the LOADER_MARKER in its workerData runs only the loader, so the
  // .vsix needs no second file.
  build({
    ...common,
    stdin: {
      contents: "require('node:worker_threads').workerData?.mayflyUserLoader ? require('./proxy/users/worker/loadWorker') : require('./proxy/main');",
      resolveDir: '.',
      sourcefile: 'proxy-entry.js',
    },
    outfile: 'dist/proxy.js',
  }),
]);
