/** What every user source provides (userSources.ts, awsListingSource.ts) and the directory reads. */
import type { UserRecord } from './userEntry';

export interface Skipped {
  /** The file entry or secret (never its value): `index 3`, `secret "prod/users/bob"`. */
  where: string;
  reason: string;
}

export interface SourceLoad {
  users: Map<string, UserRecord>;
  skipped: Skipped[];
}

export interface UserSource {
  readonly label: string;
  load(): Promise<SourceLoad>;
  /** Calls `onChange` when the source knows it changed (a file edit); returns a stop function. */
  watch?(onChange: () => void): () => void;
  /** Releases what the source holds (a worker thread); called once, when the directory closes. */
  close?(): void;
}
