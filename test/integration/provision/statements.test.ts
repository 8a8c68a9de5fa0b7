// The exact SQL the provisioner runs for the seed's policy, with a frozen clock and a fixed
// SCRAM salt; plus quoting of hostile names. Pure: no server needed.
import assert from 'node:assert/strict';
import { previewSql } from '../../../policy/sql';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { provisionStatements } from '../../../proxy/provision';
import { planFor, seedPlan } from '../../support/postgres';

const ROLE = '_hoop_session_user_bb0465c4';
const R = `"${ROLE}"`;
const NOW = new Date('2024-06-01T08:00:00Z');
const VERIFIER =
  'SCRAM-SHA-256$4096:BwcHBwcHBwcHBwcHBwcHBw==$CY7VOdtQTYJgfjiL4laqFr7Wf3z1D7WO5PQ8W28R52k=:2Xi64GObpApLvhIDyYCgiKS29iEEPWmCrVkt6rQpVUg=';

function schemaBlock(schema: string, creators = '"postgres"'): string[] {
  const s = `"${schema}"`;
  return [
    `REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM ${R}`,
    `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${s} FROM ${R}`,
    `GRANT USAGE ON SCHEMA ${s} TO ${R}`,
    `GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA ${s} TO ${R}`,
    `GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${s} TO ${R}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${creators} IN SCHEMA ${s} GRANT SELECT, UPDATE ON TABLES TO ${R}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${creators} IN SCHEMA ${s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ${R}`,
  ];
}

describe('provision statements (pure, seed policy, frozen clock)', () => {
  const plan = seedPlan();
  const validUntil = new Date(NOW.getTime() + plan.expirationNs / 1e6);

  it('derives the seed role and a 12h expiry', () => {
    assert.equal(plan.role, ROLE);
    assert.equal(validUntil.toISOString(), '2024-06-01T20:00:00.000Z');
    assert.equal(scramVerifier('correct horse battery staple', Buffer.alloc(16, 7), 4096), VERIFIER);
  });

  it('new role: marker, NOLOGIN role, per-database grants, then LOGIN + verifier + VALID UNTIL (UTC)', () => {
    const s = provisionStatements(plan, {
      roleExists: false,
      createMarker: true,
      validUntil,
      verifier: VERIFIER,
      creatorsFor: () => ['postgres'],
    });
    assert.deepEqual(s, {
      prepare: [
        'CREATE ROLE "mayfly_managed" WITH NOLOGIN',
        `CREATE ROLE ${R} WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION VALID UNTIL '2024-06-01T20:00:00.000Z'`,
        `GRANT "mayfly_managed" TO ${R}`,
      ],
      databases: [
        { database: 'dellstore', statements: [`GRANT CONNECT ON DATABASE "dellstore" TO ${R}`, ...schemaBlock('public'), ...schemaBlock('store')] },
        { database: 'testdb', statements: [`GRANT CONNECT ON DATABASE "testdb" TO ${R}`, ...schemaBlock('public')] },
      ],
      finalize: [`ALTER ROLE ${R} WITH LOGIN ENCRYPTED PASSWORD '${VERIFIER}' VALID UNTIL '2024-06-01T20:00:00.000Z'`],
    });
  });

  it('existing role, password kept: no CREATE, same grants, ALTER ... LOGIN VALID UNTIL without a password', () => {
    const later = new Date('2024-06-02T08:30:00.250Z');
    const s = provisionStatements(plan, { roleExists: true, validUntil: later, creatorsFor: () => ['postgres'] });
    assert.deepEqual(s.prepare, []);
    assert.equal(s.databases.length, 2);
    assert.deepEqual(s.finalize, [`ALTER ROLE ${R} WITH LOGIN VALID UNTIL '2024-06-02T08:30:00.250Z'`]);
  });

  it('per-schema creators (granter + schema owner) and database privileges left to PUBLIC', () => {
    const s = provisionStatements(plan, {
      roleExists: true,
      validUntil,
      creatorsFor: (db, schema) => (db === 'dellstore' && schema === 'store' ? ['granter', 'store_owner', 'granter'] : ['granter']),
      databasePrivilegesFor: (db) => (db === 'testdb' ? [] : ['CONNECT']),
    });
    assert.deepEqual(s.databases[0]!.statements, [
      `GRANT CONNECT ON DATABASE "dellstore" TO ${R}`,
      ...schemaBlock('public', '"granter"'),
      ...schemaBlock('store', '"granter", "store_owner"'),
    ]);
    assert.deepEqual(s.databases[1]!.statements, schemaBlock('public', '"granter"'));
  });

  it('the preview (hover) shows the same statements with the password elided', () => {
    const s = provisionStatements(plan, { roleExists: false, validUntil, verifier: VERIFIER });
    const preview = previewSql(plan, NOW);
    assert.deepEqual(preview.slice(1, -1), s.databases);
    assert.deepEqual(preview[0]!.statements, s.prepare);
    assert.equal(preview.at(-1)!.statements.length, 1);
    assert.match(preview.at(-1)!.statements[0]!, /ENCRYPTED PASSWORD '<SCRAM-SHA-256 verifier>' VALID UNTIL/);
    assert.ok(!JSON.stringify(preview).includes('SCRAM-SHA-256$'));
  });

  it('TEMPORARY and CREATE go to the database and the schema; INSERT gets sequence USAGE', () => {
    const p = planFor({ instances: ['testdb'], privileges: ['INSERT', 'CREATE', 'TEMPORARY'], role: 'r1' });
    const s = provisionStatements(p, { roleExists: true, validUntil, creatorsFor: () => ['g'] });
    assert.deepEqual(s.databases[0]!.statements, [
      'GRANT CONNECT, TEMPORARY ON DATABASE "testdb" TO "r1"',
      'REVOKE ALL ON ALL TABLES IN SCHEMA "public" FROM "r1"',
      'REVOKE ALL ON ALL SEQUENCES IN SCHEMA "public" FROM "r1"',
      'GRANT USAGE, CREATE ON SCHEMA "public" TO "r1"',
      'GRANT INSERT ON ALL TABLES IN SCHEMA "public" TO "r1"',
      'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "public" TO "r1"',
      'ALTER DEFAULT PRIVILEGES FOR ROLE "g" IN SCHEMA "public" GRANT INSERT ON TABLES TO "r1"',
      'ALTER DEFAULT PRIVILEGES FOR ROLE "g" IN SCHEMA "public" GRANT USAGE ON SEQUENCES TO "r1"',
    ]);
  });

  it('quotes hostile identifiers: mixed case, reserved words, quotes and semicolons', () => {
    const evil = 'x"; DROP ROLE postgres; --';
    const p = planFor({ instances: ['db'], privileges: ['SELECT'], role: 'Role "quoted"; x' });
    p.databases[0]!.database = 'My "DB"';
    p.databases[0]!.schemas = [
      { ...p.databases[0]!.schemas[0]!, schema: 'Mixed Case' },
      { ...p.databases[0]!.schemas[0]!, schema: 'select' },
      { ...p.databases[0]!.schemas[0]!, schema: evil },
    ];
    const s = provisionStatements(p, { roleExists: false, validUntil, verifier: VERIFIER, creatorsFor: () => ['Gr"anter'] });
    const all = [...s.prepare, ...s.databases.flatMap((d) => d.statements), ...s.finalize].join('\n');
    assert.match(all, /GRANT CONNECT ON DATABASE "My ""DB""" TO "Role ""quoted""; x"/);
    assert.match(all, /IN SCHEMA "Mixed Case" FROM/);
    assert.match(all, /IN SCHEMA "select" FROM/);
    assert.match(all, /IN SCHEMA "x""; DROP ROLE postgres; --" FROM/);
    assert.match(all, /FOR ROLE "Gr""anter"/);
    // Every double quote outside identifiers is doubled: stripping quoted identifiers leaves no quote.
    for (const stmt of all.split('\n')) assert.doesNotMatch(stmt.replace(/"(?:[^"]|"")*"/g, 'ID').replace(/'[^']*'/g, 'LIT'), /["';]/);
  });

  it('refuses a password that is not a SCRAM verifier', () => {
    assert.throws(() => provisionStatements(plan, { roleExists: true, validUntil, verifier: 'plaintext-password' }), /not a SCRAM-SHA-256 verifier/);
  });
});
