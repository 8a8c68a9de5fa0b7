/** What the user directory's thread and the user-loading worker send each other (structured clone). */
import type { AwsOptions } from '../../aws/config';
import type { SecretsOperation } from '../../aws/secretsReader';
import type { Level } from '../../log/logger';
import type { Skipped } from '../source';
import type { UserSourceSpec } from '../sourceSpec';

/**
 * The key in workerData that marks the loader thread. The bundled dist/proxy.js is also
 * the worker's script, and its entry (scripts/build.mjs) runs loadWorker.ts when it is set.
 */
export const LOADER_MARKER = 'mayflyUserLoader';

export type AwsUserSourceSpec = Exclude<UserSourceSpec, { kind: 'file' }>;

/** workerData: settings only — credentials come from the environment the worker inherits. */
export interface LoaderData {
  [LOADER_MARKER]: true;
  aws: AwsOptions;
}

export interface LoadRequest {
  id: number;
  spec: AwsUserSourceSpec;
  /** The version of this source's users the main thread holds (from an earlier reply), if any. */
  have?: number;
}

export type CallCounts = Record<SecretsOperation, number>;

/**
 * A load's answer: the users (encodeUsers' slices) under a new version, or — when they are
 * the same as the version the main thread said it holds — just that version again.
 */
export type LoadReply = { version: number; users: Uint8Array[]; skipped: Skipped[] } | { version: number; unchanged: true };

export type LoaderMessage =
  | ({ type: 'loaded'; id: number; calls: CallCounts } & LoadReply)
  /** `error` is the message load() threw: written to be logged (no secret values). */
  | { type: 'failed'; id: number; error: string; calls: CallCounts }
  | { type: 'log'; level: Level; event: string; fields: Record<string, unknown> };
