/**
 * What provisioning a policy's session role does, per database and schema, as data.
 * The proxy executes it (through ./sql.ts); the language server previews it.
 *
 * Privileges are granted where PostgreSQL defines them instead of failing as hoop does:
 * table privileges on all tables (and on future ones via default privileges), CREATE on
 * the schema, TEMPORARY on the database; sequences get what the table privileges need
 * (INSERT into a serial column needs USAGE on its sequence).
 */
import type { Policy, Privilege } from './model';

export const TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'] as const;
export type TablePrivilege = (typeof TABLE_PRIVILEGES)[number];
export type SequencePrivilege = 'USAGE' | 'SELECT' | 'UPDATE';
export type SchemaPrivilege = 'USAGE' | 'CREATE';
export type DatabasePrivilege = 'CONNECT' | 'TEMPORARY';

export interface SchemaPlan {
  schema: string;
  /** The instance strings that named this schema (e.g. `dellstore` and `dellstore.public`). */
  instances: string[];
  schemaPrivileges: SchemaPrivilege[];
  tablePrivileges: TablePrivilege[];
  sequencePrivileges: SequencePrivilege[];
}

export interface DatabasePlan {
  database: string;
  databasePrivileges: DatabasePrivilege[];
  schemas: SchemaPlan[];
}

export interface ProvisionPlan {
  policy: string;
  role: string;
  expirationNs: number;
  /** Sorted by name: also the order in which databases are locked and changed. */
  databases: DatabasePlan[];
}

function sequencePrivilegesFor(table: readonly TablePrivilege[]): SequencePrivilege[] {
  const out: SequencePrivilege[] = [];
  if (table.includes('INSERT') || table.includes('UPDATE')) out.push('USAGE');
  if (table.includes('SELECT')) out.push('SELECT');
  if (table.includes('UPDATE')) out.push('UPDATE');
  return out;
}

function ordered<T extends string>(all: readonly T[], chosen: readonly string[]): T[] {
  return all.filter((p) => chosen.includes(p));
}

export function planPolicy(policy: Policy): ProvisionPlan {
  if (!policy.valid || !policy.sessionUser) throw new Error(`policy "${policy.name}" is not valid: ${policy.problem ?? 'unknown problem'}`);
  const privileges = policy.privileges.map((p) => p.name as Privilege);
  const tablePrivileges = ordered(TABLE_PRIVILEGES, privileges);
  const schemaPrivileges: SchemaPrivilege[] = privileges.includes('CREATE') ? ['USAGE', 'CREATE'] : ['USAGE'];
  const databasePrivileges: DatabasePrivilege[] = privileges.includes('TEMPORARY') ? ['CONNECT', 'TEMPORARY'] : ['CONNECT'];

  const byDb = new Map<string, Map<string, string[]>>();
  for (const inst of policy.instances) {
    const schemas = byDb.get(inst.database) ?? new Map<string, string[]>();
    byDb.set(inst.database, schemas);
    schemas.set(inst.schema, [...(schemas.get(inst.schema) ?? []), inst.raw]);
  }
  const databases = [...byDb.keys()].sort().map(
    (database): DatabasePlan => ({
      database,
      databasePrivileges,
      schemas: [...byDb.get(database)!.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([schema, instances]) => ({
          schema,
          instances,
          schemaPrivileges,
          tablePrivileges,
          sequencePrivileges: sequencePrivilegesFor(tablePrivileges),
        })),
    }),
  );
  return { policy: policy.name, role: policy.sessionUser, expirationNs: policy.expiration.ns, databases };
}
