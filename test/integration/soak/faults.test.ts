// The short version of `npm run soak`: each fault scenario for a few seconds under load.
import assert from 'node:assert/strict';
import { startWorld, type World } from '../../soak/world';
import { expiryUnderLoad, manyClients, policyBrokenAndFixed, postgresRestart, secretsManagerOutage, type Report } from '../../soak/scenarios';

function check(r: Report): void {
  console.log(`      ${Object.entries(r.figures).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  assert.deepEqual(r.problems, [], r.problems.join('\n'));
}

describe('faults under load (short soak)', function () {
  let world: World;
  before(async () => {
    world = await startWorld();
  });
  after(async () => {
    await world.close();
  });

  it('PostgreSQL restarted under load: clients get errors, then all recover by themselves', async () => {
    check(await postgresRestart(world, { seconds: 8, workers: 10 }));
  });

  it('the policy file broken and fixed while clients keep logging in: no client notices', async () => {
    check(await policyBrokenAndFixed(world, { seconds: 6, workers: 6 }));
  });

  it('sessions expiring under load: every client is closed at the deadline, none before, and can log in again', async () => {
    check(await expiryUnderLoad(world, { workers: 8 }));
  });
});

describe('Secrets Manager outage under load (short soak)', function () {
  let world: World;
  before(async () => {
    world = await startWorld({ aws: true });
  });
  after(async () => {
    await world.close();
  });

  it('users keep logging in on the last known set while Secrets Manager is down, and the store recovers', async () => {
    check(await secretsManagerOutage(world, { seconds: 5, workers: 4 }));
  });
});

describe('many clients (short soak)', function () {
  let world: World;
  before(async () => {
    world = await startWorld({ maxConnections: 320 });
  });
  after(async () => {
    await world.close();
  });

  it('300 clients connected for 15 s: memory and file descriptors stay flat, no errors', async () => {
    check(await manyClients(world, { clients: 300, seconds: 15 }));
  });
});
