/**
 * The main thread's end of the user-loading worker (loadWorker.ts): one thread for every
 * AWS user source of a directory, so a refresh of a thousand users — SDK requests, JSON
 * parsing — no longer holds up logins on the proxy's event loop; the main thread only
 * decodes the finished users (WorkerUserSource) and reconciles them.
 *
 * - Started on the first load, not before (a proxy whose sources never load pays nothing).
 * - Referenced only while a load is pending: an idle loader never keeps the process alive,
 *   and a one-shot load in an otherwise idle process still gets its answer.
 * - If the thread dies, the loads it had fail with an error saying so (the directory keeps
 *   their last good users) and the next load starts a new thread.
 * - close() ends the thread and fails what is pending; later loads fail at once.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { secretsManagerSettings, type AwsOptions } from '../../aws/config';
import type { Logger } from '../../log/logger';
import { LOADER_MARKER, type AwsUserSourceSpec, type CallCounts, type LoaderData, type LoaderMessage, type LoadReply } from './protocol';

interface Pending {
  resolve(reply: LoadReply): void;
  reject(error: Error): void;
}

const NO_CALLS: CallCounts = { GetSecretValue: 0, ListSecrets: 0, BatchGetSecretValue: 0 };

/**
 * How to start the thread. Bundled, the code runs from dist/proxy.js, which is also the
 * worker's script (its entry dispatches on LOADER_MARKER), so the .vsix needs no second
 * file. From the TypeScript sources (tests, benchmarks under tsx) a worker does not inherit
 * tsx's loader hooks, so a one-line bootstrap registers tsx before loading loadWorker.ts.
 */
function workerScript(): { script: string; eval: boolean } {
  if (!__filename.endsWith('.ts')) return { script: __filename, eval: false };
  const file = JSON.stringify(path.join(__dirname, 'loadWorker.ts'));
  return { script: `const load = require('node:module').createRequire(${file}); load('tsx/cjs'); load(${file});`, eval: true };
}

export class UserLoader {
  private worker?: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** SDK calls of threads that have ended, and of the current one. */
  private callsBefore: CallCounts = { ...NO_CALLS };
  private callsNow: CallCounts = { ...NO_CALLS };

  constructor(private readonly options: { aws?: AwsOptions; log: Logger }) {
    // Bad settings stop the start here, as they did when the reader was built on this thread.
    secretsManagerSettings(options.aws);
  }

  /** The running thread, if any. */
  get thread(): Worker | undefined {
    return this.worker;
  }

  /** Secrets Manager calls made by every thread so far, per operation. */
  get calls(): CallCounts {
    const out = { ...this.callsBefore };
    for (const k of Object.keys(out) as (keyof CallCounts)[]) out[k] += this.callsNow[k];
    return out;
  }

  /** Loads `spec` in the thread; `have` is the version of its users the caller holds. */
  load(spec: AwsUserSourceSpec, have?: number): Promise<LoadReply> {
    if (this.closed) return Promise.reject(new Error('the user directory is closed'));
    let worker: Worker;
    try {
      worker = this.worker ?? this.start();
    } catch (e) {
      return Promise.reject(new Error(`cannot start the user-loading worker: ${(e as Error).message}`));
    }
    const id = this.nextId++;
    return new Promise<LoadReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, spec, ...(have !== undefined ? { have } : {}) });
    });
  }

  private start(): Worker {
    const { script, eval: isCode } = workerScript();
    const data: LoaderData = { [LOADER_MARKER]: true, aws: { ...this.options.aws } };
    // execArgv: none of the proxy's own flags (heap sizes, inspector) apply to the loader.
    const worker = new Worker(script, { eval: isCode, workerData: data, execArgv: [] });
    let crash: Error | undefined;
    worker.on('message', (m: LoaderMessage) => this.onMessage(worker, m));
    worker.on('error', (e) => (crash = e));
    // A reply that cannot be read would leave its load waiting forever: start over instead.
    worker.on('messageerror', () => void worker.terminate());
    worker.on('exit', (code) => this.onExit(code, crash));
    // After the listeners: adding a 'message' listener refs the thread's port again.
    worker.unref();
    this.worker = worker;
    this.callsNow = { ...NO_CALLS };
    return worker;
  }

  private onMessage(worker: Worker, m: LoaderMessage): void {
    if (m.type === 'log') {
      this.options.log.log(m.level, m.event, m.fields);
      return;
    }
    if (worker === this.worker) this.callsNow = m.calls;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.settled(worker, m.id);
    if (m.type === 'failed') p.reject(new Error(m.error));
    else if ('unchanged' in m) p.resolve({ version: m.version, unchanged: true });
    else p.resolve({ version: m.version, users: m.users, skipped: m.skipped });
  }

  private settled(worker: Worker, id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) worker.unref();
  }

  private onExit(code: number, crash: Error | undefined): void {
    this.worker = undefined;
    for (const k of Object.keys(this.callsBefore) as (keyof CallCounts)[]) this.callsBefore[k] += this.callsNow[k];
    this.callsNow = { ...NO_CALLS };
    if (this.closed) return;
    const why = `the user-loading worker stopped (exit code ${code}${crash ? `: ${crash.message}` : ''})`;
    this.options.log.log('warn', 'users.worker-exited', { code, ...(crash ? { error: crash.message } : {}), pendingLoads: this.pending.size });
    this.failPending(`${why}; the next refresh starts a new one`);
  }

  private failPending(message: string): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(new Error(message));
  }

  /** Ends the thread (if any); pending and later loads fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failPending('the user directory is closed');
    void this.worker?.terminate();
  }
}
