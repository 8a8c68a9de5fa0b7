/**
 * Where users come from. Each source loads its whole current set; a load that fails
 * throws (the directory then keeps that source's last good set), while a malformed entry
 * or secret only lands in `skipped` with a reason that never holds a secret value.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SecretsReader } from '../aws/secretsReader';
import { parseUsersAsync, UsersFileError } from './fileStore';
import { usersFromSecret } from './userSecret';
import { AwsListingSource } from './awsListingSource';
import { describeUserSource, type UserSourceSpec } from './sourceSpec';
import type { SourceLoad, UserSource } from './source';

export type { Skipped, SourceLoad, UserSource } from './source';


export class FileUserSource implements UserSource {
  readonly label: string;
  constructor(readonly file: string) {
    this.label = `file ${file}`;
  }

  async load(): Promise<SourceLoad> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.file, 'utf8');
    } catch (e) {
      throw new UsersFileError(`cannot read the users file ${this.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const { users, skipped } = await parseUsersAsync(text);
    return { users, skipped: skipped.map((s) => ({ where: `index ${s.index}`, reason: s.reason })) };
  }

  /** Polls the file (this survives editors that replace it) so edits apply within a second. */
  watch(onChange: () => void, intervalMs = 1000): () => void {
    const listener = (cur: fs.Stats, prev: fs.Stats): void => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size) onChange();
    };
    fs.watchFile(this.file, { interval: intervalMs, persistent: false }, listener);
    return () => fs.unwatchFile(this.file, listener);
  }
}

/** `aws:SECRET_ID`: one secret holding a JSON array of users (or one RDS-style user). */
export class AwsSecretUserSource implements UserSource {
  readonly label: string;
  constructor(
    private readonly reader: SecretsReader,
    readonly secretId: string,
  ) {
    this.label = `aws:${secretId}`;
  }

  async load(): Promise<SourceLoad> {
    const value = await this.reader.getSecret(this.secretId);
    let parsed;
    try {
      parsed = await usersFromSecret(value.text);
    } catch (e) {
      // A broken edit of the secret fails the load, so the last good set stays in force.
      throw new Error(`secret "${this.secretId}": ${(e as Error).message}`);
    }
    return { users: parsed.users, skipped: parsed.skipped.map((s) => ({ where: `secret "${this.secretId}" index ${s.index}`, reason: s.reason })) };
  }
}

/** `reader` is called only for AWS sources, so a file-only proxy never builds an AWS client. */
export function createUserSource(spec: UserSourceSpec, deps: { reader: () => SecretsReader }): UserSource {
  switch (spec.kind) {
    case 'file':
      return new FileUserSource(path.resolve(spec.file));
    case 'aws-secret':
      return new AwsSecretUserSource(deps.reader(), spec.secretId);
    case 'aws-prefix':
      return new AwsListingSource(deps.reader(), describeUserSource(spec), [{ Key: 'name', Values: [spec.prefix] }], (s) =>
        s.name.startsWith(spec.prefix),
      );
    case 'aws-tag':
      // The two filters match independently (any tag key, any tag value), so the exact pair is checked here.
      return new AwsListingSource(
        deps.reader(),
        describeUserSource(spec),
        [
          { Key: 'tag-key', Values: [spec.key] },
          { Key: 'tag-value', Values: [spec.value] },
        ],
        (s) => s.tags.get(spec.key) === spec.value,
      );
  }
}
