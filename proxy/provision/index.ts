/** Postgres provisioning engine: just-in-time, short-lived session roles. */
export { provision, type ProvisionOptions, type ProvisionOutcome } from './provisioner';
export { roleStatus, extendRole, expireRole, type RoleStatus, type ExpireOptions } from './roles';
export { sweepExpiredRoles, type SweepOptions, type SweepReport, type SweptRole } from './sweep';
export { ProvisionError } from './errors';
export { closeProvisionPools, provisionPoolStats, POOL_IDLE_MS, POOL_MAX_IDLE } from './pool';
export { provisionStatements, provisionSteps, type ProvisionStatementOptions } from '../../policy/sql';
export { roleLockName } from './locks';
