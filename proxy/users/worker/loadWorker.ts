/**
 * The user-loading worker thread: runs the AWS user sources (their SDK calls and the JSON
 * parsing of every secret) off the proxy's event loop and answers each LoadRequest with the
 * finished users — or, when they are what the main thread already holds, with just their
 * version, so an unchanged refresh costs the main thread nothing to decode. Sources are kept
 * between loads, so their version caches still spare reading unchanged secrets. Started by
 * userLoader.ts; log events go to the main thread's logger, which redacts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SecretsReader } from '../../aws/secretsReader';
import { Redactor, type Level, type Logger } from '../../log/logger';
import { describeUserSource } from '../sourceSpec';
import { createUserSource } from '../userSources';
import type { SourceLoad, UserSource } from '../source';
import { encodeUsers, sameSourceLoad } from '../transfer';
import type { LoadRequest, LoaderData, LoaderMessage } from './protocol';

const port = parentPort;
if (!port) throw new Error('proxy/users/worker/loadWorker.ts runs as a worker thread (userLoader.ts starts it)');

function send(message: LoaderMessage): void {
  port!.postMessage(message);
}

const log: Logger = {
  redactor: new Redactor(),
  log(level: Level, event: string, fields: Record<string, unknown> = {}) {
    try {
      send({ type: 'log', level, event, fields });
    } catch {
      // A field that cannot be cloned: the event still goes, without its fields.
      send({ type: 'log', level, event, fields: { fields: 'not transferable' } });
    }
  },
};

const reader = new SecretsReader((workerData as LoaderData).aws, log);
const sources = new Map<string, UserSource>();
/** What each source last sent, under which version. */
const sent = new Map<string, { version: number; load: SourceLoad }>();
let versions = 0;

async function load({ id, spec, have }: LoadRequest): Promise<void> {
  const key = describeUserSource(spec);
  let source = sources.get(key);
  if (!source) sources.set(key, (source = createUserSource(spec, { reader: () => reader })));
  let loaded: SourceLoad;
  try {
    loaded = await source.load();
  } catch (e) {
    send({ type: 'failed', id, error: e instanceof Error ? e.message : String(e), calls: { ...reader.calls } });
    return;
  }
  const last = sent.get(key);
  if (last && last.version === have && sameSourceLoad(last.load, loaded)) {
    send({ type: 'loaded', id, version: last.version, unchanged: true, calls: { ...reader.calls } });
    return;
  }
  const version = ++versions;
  sent.set(key, { version, load: loaded });
  send({ type: 'loaded', id, version, users: encodeUsers(loaded.users), skipped: loaded.skipped, calls: { ...reader.calls } });
}

port.on('message', (m: LoadRequest) => void load(m));
