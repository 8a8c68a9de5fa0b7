/**
 * Starts and stops one code-server (a VS Code server with its web workbench) for a test run:
 * fresh user-data, extensions and config directories, its own process group, loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { codeServerInstall, codeServerAvailable } from './paths';
import { freePort } from '../../../proxy/demo/embeddedPostgres';

export interface CodeServerOptions {
  /** false: keep VS Code's workspace trust on, so a folder opens in restricted mode. */
  trusted?: boolean;
  /** Extra environment for the server; its extension host and terminals inherit it. */
  env?: Record<string, string>;
  /** Where the server's own stdout/stderr go (default: a file in its temp dir). */
  logFile?: string;
  /** How long to wait for GET /healthz (default 60 s). */
  startTimeoutMs?: number;
  /** User settings, merged over defaultSettings. */
  settings?: Record<string, unknown>;
}

/**
 * User settings of every test server: no network chatter that cannot succeed here, no
 * welcome page or AI panels in screenshots, and a DOM-rendered terminal whose text the UI
 * helpers can read.
 */
export const defaultSettings: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
  'git.enabled': false,
  'terminal.integrated.gpuAcceleration': 'off',
};

export interface CodeServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** The temp dir holding user-data, extensions and config; removed by stop(). */
  tmpDir: string;
  userDataDir: string;
  logFile: string;
  /** Kills the server's whole process group and removes tmpDir (unless keepTmp). */
  stop(opts?: { keepTmp?: boolean }): Promise<void>;
}

const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Removes `dir` if the runner is interrupted; call the returned function once it is gone. */
export function trackTempDir(dir: string): () => void {
  installExitHook();
  tempDirs.add(dir);
  return () => void tempDirs.delete(dir);
}

/** If the runner dies or is interrupted, take the servers (and their children) with it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanup = (): void => {
    for (const c of running) killGroup(c, 'SIGKILL');
    for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanup();
      process.exit(130);
    });
  }
}

export { freePort } from '../../../proxy/demo/embeddedPostgres';

async function waitForHealthz(url: string, child: ChildProcess, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`code-server exited (${child.exitCode ?? child.signalCode}) before it was ready; log: ${logFile}\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer ${url}/healthz within ${timeoutMs} ms; log: ${logFile}\n${tail(logFile)}`);
}

export function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Environment of the server: ours minus anything that would tie it to an outer VS Code. */
function serverEnv(tmpDir: string, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('VSCODE_') || k === 'ELECTRON_RUN_AS_NODE' || k.startsWith('npm_')) continue;
    env[k] = v;
  }
  // code-server writes logs and a default config under XDG dirs (~/.local/share, ~/.config).
  env.XDG_DATA_HOME = path.join(tmpDir, 'xdg-data');
  env.XDG_CONFIG_HOME = path.join(tmpDir, 'xdg-config');
  // The extension's proxy keeps its control socket and state here, not in the real ~/.mayfly.
  env.MAYFLY_HOME = path.join(tmpDir, 'mayfly-home');
  return { ...env, ...extra };
}

export async function startCodeServer(opts: CodeServerOptions = {}): Promise<CodeServer> {
  if (!codeServerAvailable()) {
    throw new Error('code-server or chromium is not installed: run `bash .ci/install-vscode-test-deps.sh` (docs/testing-vscode.md)');
  }
  installExitHook();
  const cs = codeServerInstall();
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-code-server-'));
  const untrack = trackTempDir(tmpDir);
  const userDataDir = path.join(tmpDir, 'user-data');
  const extensionsDir = path.join(tmpDir, 'extensions');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir);
  fs.writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...defaultSettings, ...opts.settings }, null, 2),
  );
  const configFile = path.join(tmpDir, 'config.yaml');
  fs.writeFileSync(configFile, 'auth: none\ncert: false\n');
  const logFile = opts.logFile ?? path.join(tmpDir, 'code-server.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const args = [
      cs.entry,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--user-data-dir', userDataDir,
      '--extensions-dir', extensionsDir,
      '--config', configFile,
      '--vscode-option', 'enable-smoke-test-driver',
      ...(opts.trusted === false ? [] : ['--disable-workspace-trust']),
    ];
    const log = fs.openSync(logFile, 'a');
    const child = spawn(cs.node, args, {
      detached: true, // own process group, so stop() can kill the watcher, pty host, ext host...
      stdio: ['ignore', log, log],
      env: serverEnv(tmpDir, opts.env),
      cwd: tmpDir,
    });
    fs.closeSync(log);
    // Kept until stop(): the group's other processes may outlive the server process itself.
    running.add(child);
    try {
      await waitForHealthz(url, child, opts.startTimeoutMs ?? 60_000, logFile);
    } catch (err) {
      lastError = err;
      killGroup(child, 'SIGKILL');
      // A port taken between freePort() and the bind: try another one.
      running.delete(child);
      if (/EADDRINUSE/.test(tail(logFile))) continue;
      fs.rmSync(tmpDir, { recursive: true, force: true });
      untrack();
      throw err;
    }

    const stop = async ({ keepTmp = false } = {}): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      // Children that ignored SIGTERM (file watcher, pty host) go now.
      killGroup(child, 'SIGKILL');
      running.delete(child);
      if (!keepTmp) fs.rmSync(tmpDir, { recursive: true, force: true, maxRetries: 3 });
      untrack();
    };
    return { url, port, tmpDir, userDataDir, logFile, stop };
  }
  fs.rmSync(tmpDir, { recursive: true, force: true });
  untrack();
  throw lastError;
}

/** vscode-remote URI of a path on this machine, as the server at `port` names it. */
export function remoteUri(port: number, absPath: string): string {
  return `vscode-remote://127.0.0.1:${port}${absPath}`;
}
