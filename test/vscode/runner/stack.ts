/**
 * Maps stack frames of the compiled suites (out/vscode-tests/suite/*.js) back to the .ts
 * sources with esbuild's source maps, and drops mocha's and Node's own frames. Done on the
 * runner side: VS Code's extension host replaces Error.prepareStackTrace, so Node's
 * --enable-source-maps does not apply there.
 */
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { repoRoot, suiteOutDir } from './paths';

const maps = new Map<string, SourceMap | null>();

function mapFor(jsFile: string): SourceMap | null {
  if (!maps.has(jsFile)) {
    let map: SourceMap | null = null;
    try {
      map = new SourceMap(JSON.parse(fs.readFileSync(`${jsFile}.map`, 'utf8')));
    } catch {
      /* no map: keep the frame as it is */
    }
    maps.set(jsFile, map);
  }
  return maps.get(jsFile)!;
}

const frame = /(\/[^\s():]+\.js):(\d+):(\d+)/;

export function mapStack(stack: string, outDir = suiteOutDir): string {
  const lines: string[] = [];
  for (const line of stack.split('\n')) {
    // Node's and VS Code's own frames say nothing about the test.
    if (/\(node:internal\/|^\s*at node:internal\/|extensionHostProcess\.js:/.test(line)) continue;
    const m = frame.exec(line);
    if (!m || !m[1]!.startsWith(outDir + path.sep)) {
      lines.push(line);
      continue;
    }
    const map = mapFor(m[1]!);
    const entry = map?.findEntry(Number(m[2]) - 1, Number(m[3]) - 1) as
      | { originalSource?: string; originalLine?: number; originalColumn?: number }
      | undefined;
    if (!entry?.originalSource) {
      lines.push(line);
      continue;
    }
    const source = path.resolve(path.dirname(m[1]!), entry.originalSource);
    if (source.includes(`${path.sep}node_modules${path.sep}mocha${path.sep}`)) continue;
    const where = `${path.relative(repoRoot, source)}:${entry.originalLine! + 1}:${entry.originalColumn! + 1}`;
    lines.push(line.replace(m[0], where));
  }
  return lines.join('\n');
}
