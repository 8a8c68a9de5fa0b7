/** A policy as plain JSON: `mayfly policy show --json`, the control API and the extension use it. */
import type { Policy } from './model';
import { planPolicy } from './plan';

export interface PolicySummary {
  name: string;
  valid: boolean;
  problem?: string;
  sessionUser?: string;
  expiration: string;
  pluginConfigEntry?: string;
  instances: string[];
  grants: { database: string; schema: string; privileges: string[] }[];
}

export function describePolicy(p: Policy): PolicySummary {
  const grants = p.valid
    ? planPolicy(p).databases.flatMap((db) =>
        db.schemas.map((s) => ({ database: db.database, schema: s.schema, privileges: p.privileges.map((x) => x.name) })),
      )
    : p.instances.map((i) => ({ database: i.database, schema: i.schema, privileges: p.privileges.map((x) => x.name) }));
  return {
    name: p.name,
    valid: p.valid,
    ...(p.problem ? { problem: p.problem } : {}),
    ...(p.sessionUser ? { sessionUser: p.sessionUser } : {}),
    expiration: p.expiration.text,
    ...(p.pluginConfigEntry ? { pluginConfigEntry: p.pluginConfigEntry } : {}),
    instances: p.instances.map((i) => i.raw),
    grants,
  };
}
