/**
 * DSN -> structured connection parameters. A DSN is a secret: errors thrown here name
 * the problem and never echo the input (the Redacted* messages below are all we say).
 * We parse by hand rather than with `pg-connection-string` because that library puts
 * parts of the raw URL into its errors and does not reject every malformed form we care about.
 */

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

export interface ConnectionParams {
  /** Hostname, IPv4 or IPv6 literal (without brackets), or a Unix socket directory. */
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  sslmode: SslMode;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  /** Other query parameters (application_name, connect_timeout, ...). */
  params: Record<string, string>;
}

export class DsnError extends Error {
  constructor(reason: string) {
    // Only the reason: the DSN itself never goes into a message.
    super(`invalid DSN: ${reason}`);
    this.name = 'DsnError';
  }
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new DsnError(`the ${what} has a malformed percent-escape`);
  }
}

export function parseDsn(dsn: string): ConnectionParams {
  const trimmed = dsn.trim();
  const scheme = /^(postgres|postgresql):\/\//i.exec(trimmed);
  if (!scheme) throw new DsnError('it must start with postgres:// or postgresql://');
  let rest = trimmed.slice(scheme[0].length);
  const hashAt = rest.indexOf('#');
  if (hashAt >= 0) rest = rest.slice(0, hashAt);
  const queryAt = rest.indexOf('?');
  const query = queryAt >= 0 ? rest.slice(queryAt + 1) : '';
  if (queryAt >= 0) rest = rest.slice(0, queryAt);
  const slash = rest.indexOf('/');
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : '';

  // userinfo ends at the LAST '@' so unescaped '@' in passwords still parses.
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : '';
  const hostport = at >= 0 ? authority.slice(at + 1) : authority;
  let user = '';
  let password: string | undefined;
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    user = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, 'user name');
    if (colon >= 0) password = decode(userinfo.slice(colon + 1), 'password');
  }

  let host = '';
  let portText = '';
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) throw new DsnError('an IPv6 host is missing its closing "]"');
    host = hostport.slice(1, close);
    const after = hostport.slice(close + 1);
    if (after && !after.startsWith(':')) throw new DsnError('unexpected text after the IPv6 host');
    portText = after.slice(1);
  } else {
    if (hostport.includes(',')) throw new DsnError('multiple hosts are not supported');
    const colon = hostport.lastIndexOf(':');
    host = decode(colon >= 0 ? hostport.slice(0, colon) : hostport, 'host');
    portText = colon >= 0 ? hostport.slice(colon + 1) : '';
  }

  const params: Record<string, string> = {};
  for (const pair of query.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decode(eq >= 0 ? pair.slice(0, eq) : pair, 'query parameter name');
    params[key] = decode((eq >= 0 ? pair.slice(eq + 1) : '').replace(/\+/g, ' '), `query parameter "${key}"`);
  }
  // libpq lets query parameters supply what the URL leaves out.
  host = host || params.host || '';
  portText = portText || params.port || '';
  user = user || params.user || '';
  password = password ?? params.password;
  let database = path ? decode(path, 'database name') : params.dbname || '';

  if (!host) throw new DsnError('the host is missing');
  let port = 5432;
  if (portText) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
      throw new DsnError('the port must be a number from 1 to 65535');
    port = Number(portText);
  }
  if (!user) throw new DsnError('the user name is missing');
  if (!database) database = 'postgres';
  const sslmode = (params.sslmode ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode)) throw new DsnError(`sslmode must be one of ${SSL_MODES.join(', ')}`);

  const out: ConnectionParams = { host, port, user, database, sslmode, params: {} };
  if (password !== undefined) out.password = password;
  for (const [k, v] of Object.entries(params)) {
    if (['host', 'port', 'user', 'password', 'dbname', 'sslmode'].includes(k)) continue;
    if (k === 'sslrootcert' || k === 'sslcert' || k === 'sslkey') out[k] = v;
    else out.params[k] = v;
  }
  return out;
}

/** A description safe to log: host, port, database and user, never the password. */
export function describeConnection(p: ConnectionParams): string {
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  return `${p.user}@${host}:${p.port}/${p.database}`;
}
