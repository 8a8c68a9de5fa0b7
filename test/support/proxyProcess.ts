/** Starts `mayfly proxy` as a real child process with a private MAYFLY_HOME, for CLI tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN } from './cli';

export interface RunningProxy {
  home: string;
  socket: string;
  env: NodeJS.ProcessEnv;
  output(): string;
  process: ChildProcess;
  stop(): Promise<number | null>;
}

export async function startProxy(args: string[], env: NodeJS.ProcessEnv): Promise<RunningProxy> {
  // A given MAYFLY_HOME is reused (a restarted proxy); otherwise each proxy gets its own.
  const home = env.MAYFLY_HOME ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-home-'));
  const socket = path.join(home, 'run', 'control.sock');
  const fullEnv = { ...process.env, ...env, MAYFLY_HOME: home };
  const child = spawn(process.execPath, [BIN, 'proxy', ...args], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!out.includes('proxy.started')) {
    if (child.exitCode !== null) throw new Error(`mayfly proxy exited ${child.exitCode}: ${out}`);
    if (Date.now() > deadline) throw new Error(`mayfly proxy did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    home,
    socket,
    env: { MAYFLY_HOME: home },
    output: () => out,
    process: child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}
