/** ConnectionParams -> node-postgres client config, honouring sslmode as libpq does. */
import fs from 'node:fs';
import type { ClientConfig } from 'pg';
import type { ConnectionParams } from './dsn';

export function toClientConfig(p: ConnectionParams, overrides: { database?: string } = {}): ClientConfig {
  const config: ClientConfig = {
    host: p.host,
    port: p.port,
    user: p.user,
    database: overrides.database ?? p.database,
    application_name: p.params.application_name ?? 'mayfly',
  };
  if (p.password !== undefined) config.password = p.password;
  if (p.params.connect_timeout) config.connectionTimeoutMillis = Number(p.params.connect_timeout) * 1000;
  else config.connectionTimeoutMillis = 10_000;
  switch (p.sslmode) {
    case 'disable':
    case 'allow': // node-postgres cannot fall back from plaintext to TLS; plaintext is what allow tries first.
      config.ssl = false;
      break;
    case 'prefer':
      // node-postgres has no "try TLS, fall back" mode; local servers rarely offer TLS, so prefer = plaintext.
      config.ssl = false;
      break;
    case 'require':
      config.ssl = { rejectUnauthorized: false };
      break;
    case 'verify-ca':
    case 'verify-full': {
      const ssl: NonNullable<Exclude<ClientConfig['ssl'], boolean>> = { rejectUnauthorized: true };
      if (p.sslrootcert) ssl.ca = fs.readFileSync(p.sslrootcert, 'utf8');
      if (p.sslcert) ssl.cert = fs.readFileSync(p.sslcert, 'utf8');
      if (p.sslkey) ssl.key = fs.readFileSync(p.sslkey, 'utf8');
      // verify-ca checks the chain but not the host name.
      if (p.sslmode === 'verify-ca') ssl.checkServerIdentity = () => undefined;
      config.ssl = ssl;
      break;
    }
  }
  return config;
}
