import fs from 'node:fs';
import { startEmbeddedPostgres, stopAllPostgres, seedPlan, dropRoleEverywhere } from '../../support/postgres';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { provision, roleStatus, expireRole, closeProvisionPools } from '../../../proxy/provision';
import { generatePassword } from '../../../proxy/auth/scramVerifier';
function pgByKind(): Map<string, number> {
  const m = new Map<string, number>();
  for (const pid of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (!comm.startsWith('postgres')) continue;
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').replace(/127.0.0.1\(\d+\)/, '').replace(/\s+(idle|SELECT|GRANT|REVOKE|ALTER ROLE|COMMIT|BEGIN).*$/, '').slice(0, 60);
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      m.set(cmd, (m.get(cmd) ?? 0) + (Number(f[11]) + Number(f[12])) * 10);
    } catch {}
  }
  return m;
}
function pgCpu(): number {
  let t = 0;
  for (const pid of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (!comm.startsWith('postgres')) continue;
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      t += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {}
  }
  return t * 10;
}
async function measure(label: string, n: number, f: () => Promise<unknown>) {
  await f();
  const p0 = pgCpu(), n0 = process.cpuUsage(), t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  const p1 = pgCpu(), n1 = process.cpuUsage(), t1 = performance.now();
  console.log(`${label.padEnd(28)} wall ${((t1 - t0) / n).toFixed(2)} ms  node ${((n1.user - n0.user + n1.system - n0.system) / 1000 / n).toFixed(2)} ms  pg ${((p1 - p0) / n).toFixed(2)} ms`);
}
async function main() {
  const s = await startEmbeddedPostgres();
  await createSampleData(s.superuser);
  const plan = seedPlan();
  await dropRoleEverywhere(s, plan.role);
  const g = s.superuser;
  const vu = () => new Date(Date.now() + 3600e3);
  await provision(g, plan, { validUntil: vu(), newPassword: generatePassword() });
  await measure('roleStatus', 200, () => roleStatus(g, plan.role));
  await measure('provision existing newpw', 100, () => provision(g, plan, { validUntil: vu(), newPassword: generatePassword() }));
  await measure('provision existing samepw', 100, () => provision(g, plan, { validUntil: vu() }));
  const k0 = pgByKind();
  await measure('provision existing samepw', 100, () => provision(g, plan, { validUntil: vu() }));
  const k1 = pgByKind();
  for (const [k, v] of k1) if (v - (k0.get(k) ?? 0) > 0) console.log('   ', k, v - (k0.get(k) ?? 0));
  await measure('expireRole', 100, () => expireRole(g, plan.role, { terminate: true }));
  await closeProvisionPools();
  await stopAllPostgres();
}
void main();
