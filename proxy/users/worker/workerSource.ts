/**
 * The user sources the proxy runs: files on the main thread (cheap, and they are watched),
 * AWS sources through one user-loading worker shared by all of them (userLoader.ts).
 */
import path from 'node:path';
import type { AwsOptions } from '../../aws/config';
import type { Logger } from '../../log/logger';
import type { SourceLoad, UserSource } from '../source';
import { describeUserSource, type UserSourceSpec } from '../sourceSpec';
import { FileUserSource } from '../userSources';
import { decodeUsers } from '../transfer';
import type { AwsUserSourceSpec } from './protocol';
import { UserLoader } from './userLoader';

/**
 * An AWS user source whose load() runs in the loader's thread. It keeps the users it last
 * received, so an unchanged refresh hands the directory the same objects again.
 */
export class WorkerUserSource implements UserSource {
  readonly label: string;
  private last?: { version: number; load: SourceLoad };

  constructor(
    readonly loader: UserLoader,
    readonly spec: AwsUserSourceSpec,
  ) {
    this.label = describeUserSource(spec);
  }

  async load(): Promise<SourceLoad> {
    const reply = await this.loader.load(this.spec, this.last?.version);
    if ('unchanged' in reply) {
      // The thread says "unchanged" only for the version we named.
      if (this.last?.version !== reply.version) throw new Error(`the user-loading worker answered for version ${reply.version}, not the one held`);
      return this.last.load;
    }
    const load = { users: await decodeUsers(reply.users), skipped: reply.skipped };
    this.last = { version: reply.version, load };
    return load;
  }

  /** Ends the shared thread: the directory closes all its sources together. */
  close(): void {
    this.loader.close();
  }
}

export function createProxyUserSources(specs: readonly UserSourceSpec[], deps: { aws?: AwsOptions; log: Logger }): UserSource[] {
  let loader: UserLoader | undefined;
  return specs.map((spec) =>
    spec.kind === 'file' ? new FileUserSource(path.resolve(spec.file)) : new WorkerUserSource((loader ??= new UserLoader(deps)), spec),
  );
}
