/**
 * Runs extension-host test suites inside a real VS Code: for each suite a fresh code-server
 * (fresh user-data), headless chromium opening the workbench with a test payload, mocha in
 * the extension host reporting each test through codeAutomationLog.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newWorkbenchPage } from './browser';
import { remoteUri, startCodeServer, tail, trackTempDir, type CodeServer } from './codeServer';
import { logsDir } from './paths';
import { mapStack } from './stack';
import { scanForSecrets } from './secretScan';
import { newTally, OUTPUT_PREFIX, parseResultLine, record, verdict, type Tally } from './protocol';

export interface SuiteSpec {
  name: string;
  /** Compiled extensionTestsPath (a JS file exporting run()). */
  suiteIndex: string;
  /** Folder opened as the workspace (copied to a temp dir first unless copyWorkspace: false). */
  workspace: string;
  /** Default true (--disable-workspace-trust); false opens the folder in restricted mode. */
  trusted?: boolean;
  /** Extra environment for the server, hence for the extension host and its terminals. */
  env?: Record<string, string>;
  /** Default true: tests get a scratch copy and cannot dirty the fixture. */
  copyWorkspace?: boolean;
  /**
   * Module run by the runner (Node, not the extension host) before the server starts, for
   * what a suite needs outside VS Code (a database, a fake server). It exports
   * `setup(ctx): Promise<SuiteSetupResult | void>`; the env it returns is added to the suite's.
   */
  setup?: string;
}

export interface SuiteSetupContext {
  name: string;
  /** The folder the suite will open (the scratch copy), before the server starts. */
  workspace: string;
}

export interface SuiteSetupResult {
  env?: Record<string, string>;
  /** Values that must appear nowhere VS Code or Mayfly write (checked after the suite). */
  secrets?: string[];
  /** Called after the suite, whatever happened. */
  teardown?: () => Promise<void> | void;
}

export interface RunOptions {
  /** Folder with the extension's package.json (extensionDevelopmentPath). */
  extensionDir: string;
  suites: SuiteSpec[];
  /** Called with each output line (default: console.log). */
  onLine?: (line: string) => void;
  /** Per-suite limit (default 10 min, or MAYFLY_VSCODE_SUITE_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Print every workbench log line too, not only test results (or MAYFLY_VSCODE_VERBOSE=1). */
  verbose?: boolean;
}

export interface SuiteResult {
  name: string;
  passed: number;
  failed: number;
  /** What the workbench reported through codeAutomationExit (0 = run() resolved); -1: no exit. */
  exitCode: number;
  durationMs: number;
  failures: { title: string; error: string }[];
  /** Where the server, workbench and extension-host logs of this run were kept. */
  logDir: string;
}

function copyDir(src: string, dest: string): void {
  fs.cpSync(src, dest, { recursive: true });
}

/** Flattens what the workbench hands codeAutomationLog(type, args) into text lines. */
function logText(args: unknown): string {
  const list = Array.isArray(args) ? args : [args];
  return list.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' ');
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

export async function runSuite(spec: SuiteSpec, opts: Omit<RunOptions, 'suites'>): Promise<SuiteResult> {
  const say = opts.onLine ?? ((l: string) => console.log(l));
  const verbose = opts.verbose ?? !!process.env.MAYFLY_VSCODE_VERBOSE;
  const timeoutMs = opts.timeoutMs ?? (Number(process.env.MAYFLY_VSCODE_SUITE_TIMEOUT_MS) || 10 * 60_000);
  const started = Date.now();
  const logDir = path.join(logsDir, spec.name);
  fs.rmSync(logDir, { recursive: true, force: true });
  fs.mkdirSync(logDir, { recursive: true });
  const workbenchLog = fs.createWriteStream(path.join(logDir, 'workbench.log'));
  const tally: Tally = newTally();

  let workspace = path.resolve(spec.workspace);
  let scratch: string | undefined;
  let untrackScratch = (): void => {};
  if (spec.copyWorkspace !== false) {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), `mayfly-ws-${spec.name}-`));
    untrackScratch = trackTempDir(scratch);
    workspace = path.join(scratch, path.basename(workspace));
    copyDir(path.resolve(spec.workspace), workspace);
  }

  let exitCode = -1;
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let setup: SuiteSetupResult | void = undefined;
  let secretsFile: string | undefined;
  let scanOutcome: { title: string; hits: string[] } | undefined;
  try {
    if (spec.setup) {
      say(`[${spec.name}] setup: ${path.relative(process.cwd(), spec.setup)}`);
      const mod = (await import(path.resolve(spec.setup))) as { setup?: (ctx: SuiteSetupContext) => Promise<SuiteSetupResult | void> };
      if (typeof mod.setup !== 'function') throw new Error(`${spec.setup} does not export setup()`);
      setup = await mod.setup({ name: spec.name, workspace });
    }
    say(`[${spec.name}] starting code-server (workspace ${workspace}, ${spec.trusted === false ? 'untrusted' : 'trusted'})`);
    secretsFile = path.join(logDir, 'secrets-seen');
    server = await startCodeServer({
      trusted: spec.trusted !== false,
      // Tests append the session passwords they see to this file, for the scan afterwards.
      env: { ...spec.env, ...setup?.env, MAYFLY_TEST_SECRETS_FILE: secretsFile },
      logFile: path.join(logDir, 'code-server.log'),
    });
    browser = await launchChromium();
    const page: Page = await newWorkbenchPage(browser);
    let onExit!: (code: number) => void;
    const exited = new Promise<number>((r) => (onExit = r));

    // Both bindings must exist before the workbench loads: it looks for them at startup.
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown) => {
      const text = logText(args);
      workbenchLog.write(`[${type}] ${text}\n`);
      const out = text.indexOf(OUTPUT_PREFIX);
      if (out >= 0) {
        // console output of the tests or the extension under test
        for (const l of text.slice(out + OUTPUT_PREFIX.length).split('\n')) say(`[${spec.name}]     | ${l}`);
        return;
      }
      for (const line of text.split('\n')) {
        const ev = parseResultLine(line);
        if (ev?.event === 'fail') ev.error = mapStack(ev.error);
        if (ev) {
          const out = record(tally, ev, spec.name);
          if (out) say(out);
        } else if (verbose) {
          say(`[${spec.name}] [${type}] ${line}`);
        }
      }
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => onExit(code));
    page.on('pageerror', (err) => workbenchLog.write(`[pageerror] ${err.stack ?? err.message}\n`));
    page.on('console', (msg) => workbenchLog.write(`[console.${msg.type()}] ${msg.text()}\n`));

    const payload = [
      ['extensionDevelopmentPath', remoteUri(server.port, path.resolve(opts.extensionDir))],
      ['extensionTestsPath', remoteUri(server.port, path.resolve(spec.suiteIndex))],
      ['skipWelcome', 'true'],
      ['logLevel', 'info'],
    ];
    const url = `${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);

    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const outcome = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      say(`[${spec.name}] timed out after ${timeoutMs} ms`);
      await page.screenshot({ path: path.join(logDir, 'timeout.png') }).catch(() => undefined);
    } else {
      exitCode = outcome;
    }
  } catch (err) {
    say(`[${spec.name}] runner error: ${(err as Error).stack ?? err}`);
  } finally {
    await browser?.close().catch(() => undefined);
    if (server && secretsFile) {
      const seen = fs.existsSync(secretsFile) ? fs.readFileSync(secretsFile, 'utf8').split('\n').filter(Boolean) : [];
      fs.rmSync(secretsFile, { force: true });
      const secrets = [...(setup?.secrets ?? []), ...seen];
      if (secrets.length) {
        workbenchLog.end();
        await new Promise<void>((r) => workbenchLog.once('close', () => r()));
        const stateDir = path.join(path.dirname(server.userDataDir), 'mayfly-home', 'state');
        const scan = scanForSecrets([path.dirname(server.userDataDir), logDir, workspace], secrets, (p) => p.startsWith(stateDir));
        const title = `no secret in VS Code's state, logs or the workspace (${scan.files} files, ${(scan.bytes / 1e6).toFixed(1)} MB, ${secrets.length} secrets)`;
        // Counted after the mocha totals are checked (see verdict below).
        scanOutcome = { title, hits: scan.hits };
        if (scan.hits.length) say(`[${spec.name}]   ✗ ${title}\n${scan.hits.map((h) => `[${spec.name}]       ${h}`).join('\n')}`);
        else say(`[${spec.name}]   ✓ ${title}`);
      }
    }
    if (server) {
      // Keep the VS Code logs (extension host, server) next to ours before the temp dir goes.
      const vscodeLogs = path.join(server.userDataDir, 'logs');
      if (fs.existsSync(vscodeLogs)) fs.cpSync(vscodeLogs, path.join(logDir, 'vscode'), { recursive: true });
      await server.stop();
    }
    if (setup?.teardown) {
      try {
        await setup.teardown();
      } catch (err) {
        say(`[${spec.name}] teardown failed: ${(err as Error).stack ?? err}`);
      }
    }
    if (!workbenchLog.closed) workbenchLog.end();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    untrackScratch();
  }

  // A host that died, timed out or never ran a test must not pass quietly.
  const why = verdict(tally, exitCode);
  if (why) {
    tally.failed++;
    tally.failures.push({ title: `suite ${spec.name}`, error: why });
    say(`[${spec.name}]   ✗ ${why}; logs in ${logDir}`);
    if (!tally.started) say(tail(path.join(logDir, 'code-server.log'), 15));
  }
  if (scanOutcome?.hits.length) {
    tally.failed++;
    tally.failures.push({ title: scanOutcome.title, error: scanOutcome.hits.join('\n') });
  } else if (scanOutcome) tally.passed++;
  const durationMs = Date.now() - started;
  say(`[${spec.name}] ${tally.passed} passed, ${tally.failed} failed in ${(durationMs / 1000).toFixed(1)} s (exit code ${exitCode}; logs ${path.relative(process.cwd(), logDir) || logDir})`);
  return { name: spec.name, passed: tally.passed, failed: tally.failed, exitCode, durationMs, failures: tally.failures, logDir };
}

/** Runs the suites one after another (each in its own fresh code-server). */
export async function runSuites(opts: RunOptions): Promise<SuiteResult[]> {
  const results: SuiteResult[] = [];
  for (const spec of opts.suites) results.push(await runSuite(spec, opts));
  return results;
}
