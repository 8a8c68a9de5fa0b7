/** Pure policy logic shared by the language server and the proxy: no I/O in this folder. */
export * from './model';
export { analyzePolicies } from './analyze';
export { sessionUserName, sessionUserSeed, crc32, SESSION_USER_PREFIX } from './naming';
export { parseGoDuration, formatDuration } from './duration';
export { splitInstance, INSTANCE_PATTERN } from './instances';
export { planPolicy, type ProvisionPlan, type DatabasePlan, type SchemaPlan } from './plan';
export { ARGUMENTS, REQUIRED_ARGUMENTS } from './schema';
export { LineIndex } from './text';
export type { Diagnostic, Span, Fix, TextEdit, Severity } from './hcl/ast';
