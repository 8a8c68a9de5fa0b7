/**
 * Steady client load for fault tests: workers that each hold a node-postgres connection,
 * run a query in a loop, and on any error count it, drop the connection and reconnect —
 * as a connection pool in an application would. Optionally reconnect every `churn`
 * queries, so that new logins happen all the time too.
 */
import pg from 'pg';

export interface LoadOptions {
  workers: number;
  config: pg.ClientConfig;
  sql?: string;
  /** Reconnect after this many queries (0 = keep the connection). */
  churn?: number;
  /** Pause after an error before reconnecting. */
  retryMs?: number;
  /** Pause between a worker's queries (0: back to back). */
  pauseMs?: number;
}

export interface WorkerEvent {
  at: number;
  worker: number;
  kind: 'ok' | 'error';
  message?: string;
}

export class Load {
  private stopped = false;
  private running: Promise<void>[] = [];
  ok = 0;
  errors = 0;
  connects = 0;
  /** Error messages and how often each was seen. */
  readonly messages = new Map<string, number>();
  /** Last success time per worker. */
  readonly lastOk: number[];
  /** Errors with their time, for fault timelines. */
  readonly errorEvents: WorkerEvent[] = [];

  constructor(private readonly o: LoadOptions) {
    this.lastOk = new Array<number>(o.workers).fill(0);
  }

  start(): this {
    for (let i = 0; i < this.o.workers; i++) this.running.push(this.worker(i));
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  private record(worker: number, e: unknown): void {
    this.errors++;
    const message = ((e as Error).message || String(e)).slice(0, 160);
    this.messages.set(message, (this.messages.get(message) ?? 0) + 1);
    this.errorEvents.push({ at: Date.now(), worker, kind: 'error', message });
  }

  private async worker(i: number): Promise<void> {
    let client: pg.Client | undefined;
    let queries = 0;
    const drop = async (): Promise<void> => {
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    };
    while (!this.stopped) {
      if (!client) {
        const c = new pg.Client(this.o.config);
        c.on('error', () => undefined); // reported by the next query
        try {
          await c.connect();
          client = c;
          this.connects++;
          queries = 0;
        } catch (e) {
          this.record(i, e);
          await c.end().catch(() => undefined);
          await new Promise((r) => setTimeout(r, this.o.retryMs ?? 100));
          continue;
        }
      }
      try {
        await client.query(this.o.sql ?? 'SELECT 1');
        this.ok++;
        this.lastOk[i] = Date.now();
        if (this.o.churn && ++queries >= this.o.churn) await drop();
        if (this.o.pauseMs) await new Promise((r) => setTimeout(r, this.o.pauseMs! * (0.5 + Math.random())));
      } catch (e) {
        this.record(i, e);
        await drop();
        await new Promise((r) => setTimeout(r, this.o.retryMs ?? 100));
      }
    }
    await drop();
  }
}
