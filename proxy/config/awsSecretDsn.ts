/**
 * `aws:SECRET_ID[#key]` config entries: what a secret's text means as connection
 * parameters. The secret holds a DSN string, or an RDS-style JSON object
 * ({engine, host, port, username, password, dbname}, as RDS and RDS Proxy store them);
 * `#key` picks a key of a JSON object that holds either. Like every DSN, the value is a
 * secret: errors say what is wrong, never what is there.
 */
import { DsnError, parseDsn, type ConnectionParams, type SslMode } from './dsn';

const POSTGRES_ENGINES = ['postgres', 'postgresql', 'aurora-postgresql'];
const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

export function connectionFromSecret(text: string, key?: string): ConnectionParams {
  const trimmed = text.trim();
  if (key === undefined) {
    if (!trimmed.startsWith('{')) return parseDsn(trimmed);
    const obj = parseObject(trimmed);
    if (!('host' in obj))
      throw new DsnError('the secret is a JSON object without "host": name the key holding the DSN as aws:SECRET_ID#key');
    return fromRdsObject(obj);
  }
  const obj = parseObject(trimmed);
  if (!Object.hasOwn(obj, key)) throw new DsnError(`the secret's JSON has no key "${key}"`);
  const value = obj[key];
  if (typeof value === 'string') return parseDsn(value);
  if (value && typeof value === 'object' && !Array.isArray(value)) return fromRdsObject(value as Record<string, unknown>);
  throw new DsnError(`the key "${key}" must hold a DSN string or an object with host, port, username, password and dbname`);
}

function parseObject(text: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input, which is a secret.
    throw new DsnError('the secret is neither a postgres:// DSN nor valid JSON');
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new DsnError('the secret must be a DSN string or a JSON object');
  return data as Record<string, unknown>;
}

/** An RDS-style object → connection parameters; `sslmode`, `sslrootcert` may be added to it. */
export function fromRdsObject(o: Record<string, unknown>): ConnectionParams {
  if (o.engine !== undefined && (typeof o.engine !== 'string' || !POSTGRES_ENGINES.includes(o.engine)))
    throw new DsnError(`"engine" must be one of ${POSTGRES_ENGINES.join(', ')}`);
  if (typeof o.host !== 'string' || !o.host) throw new DsnError('"host" must be a non-empty string');
  let port = 5432;
  if (o.port !== undefined && o.port !== '') {
    const n = typeof o.port === 'number' ? o.port : typeof o.port === 'string' && /^\d{1,5}$/.test(o.port) ? Number(o.port) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new DsnError('"port" must be a number from 1 to 65535');
    port = n;
  }
  if (typeof o.username !== 'string' || !o.username) throw new DsnError('"username" must be a non-empty string');
  if (o.password !== undefined && typeof o.password !== 'string') throw new DsnError('"password" must be a string');
  const database = o.dbname === undefined || o.dbname === '' ? 'postgres' : o.dbname;
  if (typeof database !== 'string') throw new DsnError('"dbname" must be a string');
  const sslmode = (o.sslmode ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode)) throw new DsnError(`"sslmode" must be one of ${SSL_MODES.join(', ')}`);
  const host = o.host.startsWith('[') && o.host.endsWith(']') ? o.host.slice(1, -1) : o.host;
  const out: ConnectionParams = { host, port, user: o.username, database, sslmode, params: {} };
  if (typeof o.password === 'string') out.password = o.password;
  if (typeof o.sslrootcert === 'string') out.sslrootcert = o.sslrootcert;
  return out;
}
