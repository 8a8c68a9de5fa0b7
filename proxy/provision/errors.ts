/**
 * ProvisionError: what went wrong, where (database, schema), and how to fix it.
 * hoop swallows the real cause of a failed CREATE ROLE and reports "role does not exist"
 * later; every failure here carries PostgreSQL's own message plus a hint written for the
 * operator. Messages never contain a DSN, a password or a SCRAM verifier: connections are
 * named through describeConnection only, and every text from outside is redacted.
 */
import type { ConnectionParams } from '../config/dsn';
import { describeConnection } from '../config/dsn';

export interface ProvisionErrorInit {
  /** What we were doing, e.g. `cannot provision role "x"`. */
  action: string;
  /** The real cause (PostgreSQL's message or ours). */
  cause: string;
  /** How to fix it. */
  hint: string;
  database?: string;
  schema?: string;
  sqlstate?: string;
}

export class ProvisionError extends Error {
  /** What was being done, e.g. `cannot provision role "x"`. */
  readonly action: string;
  /** The cause alone, without action, location or hint. */
  readonly reason: string;
  readonly database?: string;
  readonly schema?: string;
  readonly sqlstate?: string;
  readonly hint: string;

  constructor(init: ProvisionErrorInit) {
    const where = [
      init.database !== undefined ? `database "${init.database}"` : '',
      init.schema !== undefined ? `schema "${init.schema}"` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const cause = init.cause.replace(/[.\s]+$/, '');
    super(`${init.action}${where ? ` (${where})` : ''}: ${cause}. ${init.hint}`);
    this.name = 'ProvisionError';
    this.action = init.action;
    this.reason = cause;
    if (init.database !== undefined) this.database = init.database;
    if (init.schema !== undefined) this.schema = init.schema;
    if (init.sqlstate !== undefined) this.sqlstate = init.sqlstate;
    this.hint = init.hint;
  }
}

/** The same error with a sentence added to its hint (e.g. what the rollback did). */
export function withNote(e: ProvisionError, note: string): ProvisionError {
  const init: ProvisionErrorInit = { action: e.action, cause: e.reason, hint: `${e.hint} ${note}` };
  if (e.database !== undefined) init.database = e.database;
  if (e.schema !== undefined) init.schema = e.schema;
  if (e.sqlstate !== undefined) init.sqlstate = e.sqlstate;
  return new ProvisionError(init);
}

const VERIFIER_TEXT = /SCRAM-SHA-256\$[^\s'"]*/g;

/**
 * Removes secrets from text that came from outside (driver and server messages). Secrets
 * shorter than 3 characters are not searched for: replacing them would garble the message
 * more than it protects.
 */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text.replace(VERIFIER_TEXT, '<verifier>');
  for (const s of secrets) {
    if (!s || s.length < 3) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('***');
  }
  return out;
}

/** The parts of a node-postgres / Node error we use; everything else (query text, parameters) is ignored. */
export interface ErrorFacts {
  message: string;
  sqlstate?: string;
  detail?: string;
  /** Node system error code, e.g. ECONNREFUSED. */
  syscode?: string;
}

export function errorFacts(e: unknown, secrets: readonly (string | undefined)[]): ErrorFacts {
  const err = (e ?? {}) as { message?: unknown; code?: unknown; detail?: unknown; errno?: unknown; errors?: unknown };
  let message = typeof err.message === 'string' && err.message ? err.message : String(e);
  let syscode: string | undefined;
  let sqlstate: string | undefined;
  if (typeof err.code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(err.code)) sqlstate = err.code;
    else syscode = err.code;
  }
  // Node wraps "localhost" tries of several addresses in an AggregateError without a message.
  if (!message && Array.isArray(err.errors) && err.errors.length) message = String((err.errors[0] as Error).message);
  const facts: ErrorFacts = { message: redact(message, secrets) };
  if (sqlstate) facts.sqlstate = sqlstate;
  if (syscode) facts.syscode = syscode;
  if (typeof err.detail === 'string' && err.detail) facts.detail = redact(err.detail, secrets);
  return facts;
}

/** A hint for a failure while connecting: what the symptom means for the operator. */
function connectionHint(f: ErrorFacts, granter: ConnectionParams, database: string): string {
  const at = `${granter.host.includes(':') ? `[${granter.host}]` : granter.host}:${granter.port}`;
  switch (f.sqlstate) {
    case '28P01':
      return `The server rejected the granter's password: correct the password of user "${granter.user}" in the plugin config entry (DSN).`;
    case '28000':
      return `The server's pg_hba.conf (or the cloud provider's equivalent) does not allow user "${granter.user}" to reach database "${database}" from here: add a rule for it, or check the user name.`;
    case '3D000':
      return `Database "${database}" does not exist on ${at}: create it or fix the policy's instances.`;
    case '42501':
      return `User "${granter.user}" may not connect to database "${database}": as its owner or a superuser run GRANT CONNECT ON DATABASE "${database.replace(/"/g, '""')}" TO "${granter.user.replace(/"/g, '""')}" WITH GRANT OPTION.`;
    case '53300':
      return `The server has no free connection slots: raise max_connections or close idle connections, then retry.`;
    case '57P03':
      return `The server is starting up or shutting down: retry in a moment.`;
  }
  switch (f.syscode) {
    case 'ECONNREFUSED':
      return `Nothing accepts connections on ${at}: check the host and port in the DSN and that PostgreSQL is running and listening there.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The host name "${granter.host}" does not resolve: check the host in the DSN and this machine's DNS.`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${at} cannot be reached from this machine: check the host, port, firewall or security group.`;
    case 'ECONNRESET':
      return `The server closed the connection: check sslmode in the DSN and the server's logs.`;
  }
  if (/timeout/i.test(f.message))
    return `${at} did not answer in time: check the host, port, firewall or security group (connect_timeout in the DSN sets the limit).`;
  if (/SSL|TLS|certificate/i.test(f.message)) return 'Check sslmode and the certificate options in the DSN.';
  return `Check the DSN's host, port, user and password, and that the server accepts the connection.`;
}

export function connectionError(action: string, granter: ConnectionParams, database: string, e: unknown, secrets: readonly (string | undefined)[]): ProvisionError {
  const f = errorFacts(e, secrets);
  const init: ProvisionErrorInit = {
    action,
    database,
    cause: `cannot connect as ${describeConnection({ ...granter, database })}: ${f.message}`,
    hint: connectionHint(f, granter, database),
  };
  if (f.sqlstate) init.sqlstate = f.sqlstate;
  return new ProvisionError(init);
}

/** A hint for an error raised by a statement, by SQLSTATE. */
export function statementHint(f: ErrorFacts, granter: string): string {
  switch (f.sqlstate) {
    case '01007':
    case '01006':
      return `The granter "${granter}" lacks grant options on some objects, so PostgreSQL would silently skip them: have their owner or a superuser grant the privileges to "${granter}" WITH GRANT OPTION, or make "${granter}" their owner.`;
    case '42501':
      return `The granter "${granter}" lacks a privilege this step needs: have a superuser grant it (or make "${granter}" the owner of the object), or use a granter with more rights.`;
    case '3F000':
      return 'The schema does not exist (it may have been dropped meanwhile): create it or fix the policy\'s instances.';
    case '3D000':
      return 'The database does not exist (it may have been dropped meanwhile): create it or fix the policy\'s instances.';
    case '2BP01':
      return 'Other objects still depend on the role: see the detail above, reassign or drop them, and retry.';
    case '40P01':
    case '40001':
    case 'XX000':
      return 'A concurrent change conflicted with this one: retry.';
    case '55P03':
      return 'Another session held a lock for too long: retry once it finishes.';
    case '57P01':
      return 'The server terminated the connection (shutdown or an administrator): retry.';
  }
  if (f.syscode) return 'The connection to the server was lost: check the server and the network, then retry.';
  return 'Fix the cause above and retry.';
}

export function statementError(
  action: string,
  e: unknown,
  where: { database?: string; schema?: string; granter: string },
  secrets: readonly (string | undefined)[],
): ProvisionError {
  if (e instanceof ProvisionError) return e;
  const f = errorFacts(e, secrets);
  const init: ProvisionErrorInit = {
    action,
    cause: f.detail ? `${f.message} (${f.detail.replace(/\n/g, '; ')})` : f.message,
    hint: statementHint(f, where.granter),
  };
  if (where.database !== undefined) init.database = where.database;
  if (where.schema !== undefined) init.schema = where.schema;
  if (f.sqlstate) init.sqlstate = f.sqlstate;
  return new ProvisionError(init);
}
