/**
 * `aws-prefix:PREFIX` and `aws-tag:KEY=VALUE`: one secret per user (RDS style, or an
 * array), found with ListSecrets and filters (every page), values read in batches of 20.
 * A secret whose AWSCURRENT version is the one read last time is not read again, so a
 * refresh of 1,000 unchanged users costs ten ListSecrets pages and nothing else.
 */
import type { ListedSecret, SecretFilter, SecretsReader } from '../aws/secretsReader';
import type { ParsedUsers, UserRecord } from './userEntry';
import { usersFromSecret } from './userSecret';
import { breathe, SLICE } from './breathe';
import type { Skipped, SourceLoad, UserSource } from './source';

export class AwsListingSource implements UserSource {
  /** Parsed values by secret name, for the version they were read at. */
  private readonly cache = new Map<string, { versionId: string; parsed: ParsedUsers }>();

  constructor(
    private readonly reader: SecretsReader,
    readonly label: string,
    private readonly filters: SecretFilter[],
    private readonly matches: (s: ListedSecret) => boolean,
  ) {}

  async load(): Promise<SourceLoad> {
    const listed = (await this.reader.listSecrets(this.filters)).filter(this.matches).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const skipped: Skipped[] = [];
    const parsedByName = new Map<string, ParsedUsers>();
    const toRead: string[] = [];
    for (const s of listed) {
      const hit = this.cache.get(s.name);
      if (hit && s.currentVersionId && hit.versionId === s.currentVersionId) parsedByName.set(s.name, hit.parsed);
      else toRead.push(s.name);
    }
    const { values, failures } = await this.reader.getSecrets(toRead);
    for (const f of failures) skipped.push({ where: `secret "${f.secretId ?? '?'}"`, reason: f.message });
    for (let i = 0; i < values.length; i++) {
      if (i > 0 && i % SLICE === 0) await breathe();
      const v = values[i]!;
      try {
        const parsed = await usersFromSecret(v.text);
        parsedByName.set(v.name, parsed);
        if (v.versionId) this.cache.set(v.name, { versionId: v.versionId, parsed });
      } catch (e) {
        this.cache.delete(v.name);
        skipped.push({ where: `secret "${v.name}"`, reason: (e as Error).message });
      }
    }
    const listedNames = new Set(listed.map((s) => s.name));
    for (const name of this.cache.keys()) if (!listedNames.has(name)) this.cache.delete(name);

    // In name order, so which of two secrets naming the same user wins does not depend on timing.
    const users = new Map<string, UserRecord>();
    const owner = new Map<string, string>();
    for (const s of listed) {
      const parsed = parsedByName.get(s.name);
      if (!parsed) continue;
      for (const k of parsed.skipped) skipped.push({ where: `secret "${s.name}"${parsed.users.size + parsed.skipped.length > 1 ? ` index ${k.index}` : ''}`, reason: k.reason });
      for (const [name, record] of parsed.users) {
        if (users.has(name)) {
          skipped.push({ where: `secret "${s.name}"`, reason: `duplicate username "${name}" (already in secret "${owner.get(name)}")` });
          continue;
        }
        users.set(name, record);
        owner.set(name, s.name);
      }
    }
    return { users, skipped };
  }
}
