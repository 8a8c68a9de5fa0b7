/**
 * User sets across the boundary of the user-loading worker (worker/). The worker sends the
 * users as v8-serialized slices of SLICE entries, so the main thread decodes them one slice
 * per turn of its event loop instead of in one block when the message arrives (a thousand
 * records with SCRAM keys take milliseconds to deserialize). Structured clone and other
 * encodings deliver Buffers as plain Uint8Arrays; the SCRAM code compares and encodes keys
 * with Buffer methods, so every decoded record is revived.
 */
import v8 from 'node:v8';
import type { ScramKeys } from '../auth/scramVerifier';
import { breathe, SLICE } from './breathe';
import { sameUserRecord } from './reconcile';
import type { SourceLoad } from './source';
import type { UserRecord } from './userEntry';

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The record with its SCRAM keys as Buffers (views of the same bytes, not copies). */
export function reviveUserRecord(record: UserRecord): UserRecord {
  if (record.secret.type !== 'scram-sha-256') return record;
  const k: ScramKeys = record.secret.keys;
  if (Buffer.isBuffer(k.salt) && Buffer.isBuffer(k.storedKey) && Buffer.isBuffer(k.serverKey)) return record;
  const keys: ScramKeys = { iterations: k.iterations, salt: asBuffer(k.salt), storedKey: asBuffer(k.storedKey), serverKey: asBuffer(k.serverKey) };
  return { ...record, secret: { type: 'scram-sha-256', keys } };
}

/** Worker side: the users, in order, as serialized slices of SLICE entries. */
export function encodeUsers(users: ReadonlyMap<string, UserRecord>): Uint8Array[] {
  const entries = [...users];
  const slices: Uint8Array[] = [];
  for (let i = 0; i < entries.length; i += SLICE) slices.push(v8.serialize(entries.slice(i, i + SLICE)));
  return slices;
}

/** Main side: the users back, in order, decoding one slice per turn of the event loop. */
export async function decodeUsers(slices: readonly Uint8Array[]): Promise<Map<string, UserRecord>> {
  const users = new Map<string, UserRecord>();
  for (let i = 0; i < slices.length; i++) {
    if (i > 0) await breathe();
    for (const [name, record] of v8.deserialize(slices[i]!) as [string, UserRecord][]) users.set(name, reviveUserRecord(record));
  }
  return users;
}

/** Whether two loads of a source hold the same users, in the same order, and the same skips. */
export function sameSourceLoad(a: SourceLoad, b: SourceLoad): boolean {
  if (a.users.size !== b.users.size || a.skipped.length !== b.skipped.length) return false;
  const other = b.users.entries();
  for (const [name, record] of a.users) {
    const [otherName, otherRecord] = other.next().value as [string, UserRecord];
    if (name !== otherName || !sameUserRecord(record, otherRecord)) return false;
  }
  return a.skipped.every((s, i) => s.where === b.skipped[i]!.where && s.reason === b.skipped[i]!.reason);
}
