import assert from 'node:assert/strict';
import { DsnError, describeConnection, parseDsn } from '../../../proxy/config/dsn';

describe('DSN parsing', () => {
  it('parses the seed shape with a default port', () => {
    const p = parseDsn('postgres://admin:s3cret@db.example.com/postgres?sslmode=require&application_name=x');
    assert.deepEqual(
      { host: p.host, port: p.port, user: p.user, password: p.password, database: p.database, sslmode: p.sslmode, params: p.params },
      { host: 'db.example.com', port: 5432, user: 'admin', password: 's3cret', database: 'postgres', sslmode: 'require', params: { application_name: 'x' } },
    );
  });

  it('decodes percent-escapes in user, password and database', () => {
    const p = parseDsn('postgresql://us%40er:p%2Fa%3Fs%23s%25w@h:6543/my%20db');
    assert.equal(p.user, 'us@er');
    assert.equal(p.password, 'p/a?s#s%w');
    assert.equal(p.database, 'my db');
    assert.equal(p.port, 6543);
  });

  it('keeps IPv6 hosts without brackets', () => {
    const p = parseDsn('postgres://u:p@[::1]:5433/postgres');
    assert.equal(p.host, '::1');
    assert.equal(p.port, 5433);
    assert.equal(describeConnection(p), 'u@[::1]:5433/postgres');
  });

  it('defaults the database to postgres and sslmode to prefer', () => {
    const p = parseDsn('postgres://u:p@h');
    assert.equal(p.database, 'postgres');
    assert.equal(p.sslmode, 'prefer');
  });

  it('takes host and port from query parameters (Unix sockets)', () => {
    const p = parseDsn('postgres://u:p@/db?host=/var/run/postgresql&port=5499');
    assert.equal(p.host, '/var/run/postgresql');
    assert.equal(p.port, 5499);
  });

  const secret = 'Sup3rS3cretPw';
  const bad = [
    `mysql://u:${secret}@h/db`,
    `postgres://u:${secret}@/db`,
    `postgres://u:${secret}@h:99999/db`,
    `postgres://u:${secret}@h:abc/db`,
    `postgres://u:${secret}@[::1/db`,
    `postgres://u:${secret}%zz@h/db`,
    `postgres://u:${secret}@h/db?sslmode=sometimes`,
    `postgres://:${secret}@h/db`,
    `${secret}`,
  ];
  for (const dsn of bad)
    it(`rejects a malformed DSN without echoing it (${bad.indexOf(dsn)})`, () => {
      assert.throws(
        () => parseDsn(dsn),
        (e: unknown) => e instanceof DsnError && !e.message.includes(secret) && !e.message.includes('Sup3r') && /^invalid DSN: /.test(e.message),
      );
    });
});
