// Logic of live passwords and expiry with a recording provisioner; the same behaviour
// against a real PostgreSQL is in test/integration/sessions.
import assert from 'node:assert/strict';
import { analyzePolicies } from '../../../policy';
import type { ConnectionParams } from '../../../proxy/config/dsn';
import { createLogger } from '../../../proxy/log/logger';
import { SessionManager, type ProvisionerApi } from '../../../proxy/sessions/sessionManager';
import { SessionError } from '../../../proxy/sessions/types';

const TEXT = `policy "a" {
  engine              = "postgres"
  plugin_config_entry = "e"
  expiration          = "1h"
  instances           = ["db1", "db2.s"]
  grant_privileges    = ["SELECT"]
}
policy "twin" {
  engine              = "postgres"
  plugin_config_entry = "e"
  expiration          = "2h"
  instances           = ["db2.s", "db1"]
  grant_privileges    = ["SELECT"]
}
`;

const GRANTER: ConnectionParams = { host: 'h', port: 5432, user: 'admin', password: 'granter-secret', database: 'postgres', sslmode: 'disable', params: {} };

class RecordingProvisioner implements ProvisionerApi {
  calls: string[] = [];
  validUntil = new Map<string, Date>();
  liveElsewhere = false;
  async provision(_g: ConnectionParams, plan: { role: string }, opts: { validUntil: Date; newPassword?: string }) {
    this.calls.push(`provision ${plan.role} ${opts.newPassword ? 'new-password' : 'keep'}`);
    this.validUntil.set(plan.role, opts.validUntil);
    return { created: true, passwordChanged: !!opts.newPassword };
  }
  async roleStatus(_g: ConnectionParams, role: string) {
    this.calls.push(`status ${role}`);
    const v = this.validUntil.get(role);
    return this.liveElsewhere
      ? { exists: true, managed: true, canLogin: true, validUntil: new Date(Date.now() + 3600e3) }
      : { exists: !!v, managed: true, canLogin: true, validUntil: v };
  }
  async extendRole(_g: ConnectionParams, role: string, validUntil: Date) {
    this.calls.push(`extend ${role}`);
    this.validUntil.set(role, validUntil);
  }
  async expireRole(_g: ConnectionParams, role: string, opts: { ifValidUntilNotAfter?: Date }) {
    this.calls.push(`expire ${role}`);
    const v = this.validUntil.get(role);
    if (opts.ifValidUntilNotAfter && v && v > opts.ifValidUntilNotAfter) return { expired: false, terminated: 0 };
    this.validUntil.set(role, new Date(0));
    return { expired: true, terminated: 1 };
  }
}

function setup(now: () => Date = () => new Date()) {
  const doc = analyzePolicies(TEXT);
  const provisioner = new RecordingProvisioner();
  const lines: string[] = [];
  const log = createLogger((l) => lines.push(l));
  const manager = new SessionManager({
    policy: (n) => doc.policies.find((p) => p.name === n),
    granter: async () => GRANTER,
    provisioner,
    log,
    now,
  });
  return { manager, provisioner, lines, log };
}

describe('session manager', () => {
  it('issues one password per role and shares it between sessions and policies', async () => {
    const { manager, provisioner } = setup();
    const a = await manager.open('a');
    const b = await manager.open('a');
    const twin = await manager.open('twin');
    assert.equal(a.password, b.password);
    assert.equal(a.password, twin.password);
    assert.equal(a.role, twin.role);
    assert.deepEqual(provisioner.calls.filter((c) => c.startsWith('provision')), [`provision ${a.role} new-password`]);
    // twin's 2h expiration pushes VALID UNTIL later, without a new password.
    assert.ok(provisioner.calls.includes(`extend ${a.role}`));
    assert.equal(manager.list().length, 3);
    manager.close();
  });

  it('serializes concurrent opens of one role', async () => {
    const { manager, provisioner } = setup();
    const sessions = await Promise.all(Array.from({ length: 50 }, () => manager.open('a')));
    assert.equal(new Set(sessions.map((s) => s.password)).size, 1);
    assert.equal(provisioner.calls.filter((c) => c.startsWith('provision')).length, 1);
    manager.close();
  });

  it('refuses to rotate a live role whose password another process holds, unless asked', async () => {
    const { manager, provisioner } = setup();
    provisioner.liveElsewhere = true;
    await assert.rejects(manager.open('a'), (e: unknown) => e instanceof SessionError && e.reason === 'role-in-use' && /rotate/.test(e.message));
    const s = await manager.open('a', { rotate: true });
    assert.ok(s.password.length >= 40);
    manager.close();
  });

  it('renews without changing the password and revokes only when the role is unshared', async () => {
    const { manager, provisioner } = setup();
    const a = await manager.open('a');
    const b = await manager.open('a');
    const [renewed] = await manager.renew(a.id);
    assert.equal(renewed!.password, a.password);
    const first = await manager.revoke(a.id);
    assert.deepEqual(first, { revoked: 1, roleExpired: false, stillShared: 1 });
    const second = await manager.revoke(b.id);
    assert.deepEqual(second, { revoked: 1, roleExpired: true, stillShared: 0 });
    assert.ok(provisioner.calls.includes(`expire ${a.role}`));
    // After the role expired, a new open issues a new password.
    const c = await manager.open('a');
    assert.notEqual(c.password, a.password);
    manager.close();
  });

  it('expires sessions at their deadline and terminates the role then, not before', async () => {
    let now = Date.now();
    const { manager, provisioner } = setup(() => new Date(now));
    const expired: string[] = [];
    manager.on('expired', (s: { id: string }) => expired.push(s.id));
    const s = await manager.open('a');
    // Pretend the hour is almost up; the timer is real, so fire it through the same path.
    now += 3600e3 - 50;
    const internal = manager as unknown as { onExpired(id: string): Promise<void> };
    await internal.onExpired(s.id);
    assert.deepEqual(expired, [], 'not before the deadline');
    assert.ok(!provisioner.calls.some((c) => c.startsWith('expire')));
    now += 100;
    await internal.onExpired(s.id);
    assert.deepEqual(expired, [s.id]);
    assert.ok(provisioner.calls.includes(`expire ${s.role}`));
    assert.equal(manager.list().length, 0);
    manager.close();
  });

  it('names unknown and invalid policies clearly', async () => {
    const { manager } = setup();
    await assert.rejects(manager.open('nope'), /no policy named "nope"/);
    manager.close();
  });

  it('never logs the issued password or the granter password', async () => {
    const { manager, lines, log } = setup();
    const s = await manager.open('a');
    log.redactor.add(GRANTER.password);
    log.log('info', 'test', { echo: `pw ${s.password} and ${GRANTER.password}` });
    const all = lines.join('\n');
    assert.ok(!all.includes(s.password));
    assert.ok(!all.includes('granter-secret'));
    assert.match(all, /\[redacted\]/);
    manager.close();
  });
});

describe('session state across restarts (the state file)', () => {
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const path = require('node:path') as typeof import('node:path');
  const { SessionStore } = require('../../../proxy/sessions/sessionStore') as typeof import('../../../proxy/sessions/sessionStore');

  function withStore(file: string, provisioner = new RecordingProvisioner()) {
    const doc = analyzePolicies(TEXT);
    const lines: string[] = [];
    const manager = new SessionManager({
      policy: (n) => doc.policies.find((p) => p.name === n),
      granter: async () => GRANTER,
      provisioner,
      log: createLogger((l) => lines.push(l)),
      store: new SessionStore(file),
    });
    return { manager, provisioner, lines };
  }
  const settle = () => new Promise((r) => setImmediate(r));

  it('a restarted manager takes up the live role and its sessions, and keeps sharing the password', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-state-')), 'state', 'sessions.json');
    const first = withStore(file);
    const a = await first.manager.open('a');
    first.manager.close();
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.ok(!fs.readFileSync(file, 'utf8').includes(GRANTER.password!), 'no granter DSN in the state file');
    // The role is live on the server (same provisioner): a fresh process must not refuse or rotate.
    const second = withStore(file, first.provisioner);
    await second.manager.ready();
    assert.deepEqual(second.manager.list().map((s) => s.id), [a.id]);
    const again = await second.manager.open('a');
    assert.equal(again.password, a.password);
    assert.equal(second.provisioner.calls.filter((c) => c.startsWith('provision')).length, 1, 'no second provision, no rotation');
    assert.match(second.lines.join('\n'), /sessions\.restored/);
    assert.ok(!second.lines.join('\n').includes(a.password), 'the restored password is redacted from logs');
    second.manager.close();
  });

  it('a revoked session and its expired role do not come back, and a broken file is ignored', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-state-')), 'sessions.json');
    const first = withStore(file);
    await first.manager.open('a');
    await first.manager.revoke('a');
    await settle();
    first.manager.close();
    const second = withStore(file, first.provisioner);
    await second.manager.ready();
    assert.equal(second.manager.list().length, 0);
    fs.writeFileSync(file, '{ not json');
    const third = withStore(file, first.provisioner);
    await third.manager.ready();
    assert.equal(third.manager.list().length, 0);
    const fresh = await third.manager.open('a');
    assert.ok(fresh.password);
    third.manager.close();
  });
});
