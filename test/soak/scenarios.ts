/**
 * Fault scenarios under steady load. Each returns figures (what held, what it cost) and
 * problems (broken promises); `npm run soak` runs them long, `npm test` briefly.
 */
import fs from 'node:fs';
import { ControlClient } from '../../proxy/control/client';
import { Load } from './load';
import { openFds, rssMb } from './processStats';
import { POLICIES, type World } from './world';

export interface Report {
  name: string;
  figures: Record<string, number | string>;
  problems: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(50);
  }
  return true;
}

/** Problems every scenario checks: the proxy is alive and printed no secret. */
function common(world: World, problems: string[]): void {
  if (world.proxy.process.exitCode !== null) problems.push(`the proxy exited (${world.proxy.process.exitCode})`);
  const log = world.proxy.output();
  for (const s of world.secrets) if (log.includes(s)) problems.push('a secret appeared in the proxy log');
}

/** PostgreSQL stopped and started while clients work through the proxy. */
export async function postgresRestart(world: World, o: { seconds: number; workers: number; downMs?: number }): Promise<Report> {
  const problems: string[] = [];
  const pid = world.proxy.process.pid!;
  // Warm up (opens the session, fills the pool), then take the baseline.
  const warm = new Load({ workers: o.workers, config: world.clientConfig('soak') }).start();
  await sleep(1000);
  await warm.stop();
  await sleep(300);
  const fdsBefore = openFds(pid);
  const rssBefore = rssMb(pid);
  const load = new Load({ workers: o.workers, config: world.clientConfig('soak'), churn: 20 }).start();
  const downAfter = Math.max(1000, o.seconds * 300);
  await sleep(downAfter);
  const okBeforeFault = load.ok;
  const downAt = Date.now();
  await world.server.down();
  await sleep(o.downMs ?? 2000);
  const errorsWhileDown = load.errors;
  await world.server.up();
  const upAt = Date.now();
  const recovered = await waitFor(() => load.lastOk.every((t) => t > upAt), 20_000);
  const recoveryMs = recovered ? Math.max(...load.lastOk.map((t) => t)) - upAt : NaN;
  const firstOk = Math.min(...load.lastOk.filter((t) => t > upAt));
  if (!recovered) problems.push(`not every worker recovered within 20 s of the restart (${load.lastOk.filter((t) => t > upAt).length}/${o.workers})`);
  const rest = o.seconds * 1000 - (Date.now() - downAt) - downAfter;
  if (rest > 0) await sleep(rest);
  const okAfter = load.ok;
  await load.stop();
  await sleep(500);
  const fdsAfter = openFds(pid);
  // Idle pooled connections may stay (at most one per worker); more than that is a leak.
  if (fdsAfter > fdsBefore + o.workers) problems.push(`file descriptors grew from ${fdsBefore} to ${fdsAfter}`);
  if (errorsWhileDown === 0) problems.push('no client noticed the server going down (the fault was not real)');
  common(world, problems);
  return {
    name: 'PostgreSQL restarted under load',
    figures: {
      workers: o.workers,
      'queries before the fault': okBeforeFault,
      'queries in all': okAfter,
      'client errors (server down)': load.errors,
      'first query after restart (ms)': Number.isFinite(firstOk) ? firstOk - upAt : 'none',
      'all workers recovered (ms)': Number.isFinite(recoveryMs) ? Math.round(recoveryMs) : 'no',
      'proxy fds before/after': `${fdsBefore}/${fdsAfter}`,
      'proxy RSS before/after (MB)': `${rssBefore.toFixed(0)}/${rssMb(pid).toFixed(0)}`,
    },
    problems,
  };
}

/** The policy file broken and fixed while clients keep logging in. */
export async function policyBrokenAndFixed(world: World, o: { seconds: number; workers: number }): Promise<Report> {
  const problems: string[] = [];
  const load = new Load({ workers: o.workers, config: world.clientConfig('soak'), churn: 5 }).start();
  const third = (o.seconds * 1000) / 3;
  await sleep(third);
  fs.writeFileSync(world.policyFile, POLICIES.replace('grant_privileges    = ["SELECT"]', 'grant_privileges    = ["SELEKT"]'));
  const loginsAtBreak = load.connects;
  await sleep(third);
  const loginsWhileBroken = load.connects - loginsAtBreak;
  const noticed = /policies\.problem.*Unknown privilege/.test(world.proxy.output());
  fs.writeFileSync(world.policyFile, POLICIES);
  await sleep(third);
  await load.stop();
  if (loginsWhileBroken === 0) problems.push('no logins happened while the file was broken (the fault was not exercised)');
  if (!noticed) problems.push('the proxy did not report the broken policy file');
  if (load.errors) problems.push(`${load.errors} client errors: ${[...load.messages.keys()].join('; ')}`);
  common(world, problems);
  return {
    name: 'policy file broken and fixed under load',
    figures: {
      workers: o.workers,
      'logins in all': load.connects,
      'logins while broken': loginsWhileBroken,
      queries: load.ok,
      'client errors': load.errors,
    },
    problems,
  };
}

/** Sessions of a short policy expiring while their clients are busy. */
export async function expiryUnderLoad(world: World, o: { workers: number }): Promise<Report> {
  const problems: string[] = [];
  const load = new Load({ workers: o.workers, config: world.clientConfig('soak-short') }).start();
  if (!(await waitFor(() => load.ok >= o.workers, 20_000))) problems.push('clients could not start');
  const sessions = await new ControlClient(world.proxy.socket).sessions();
  const expiresAt = Math.max(...sessions.filter((s) => s.policy === 'soak-short').map((s) => new Date(s.expiresAt).getTime()));
  await waitFor(() => Date.now() >= expiresAt, 30_000);
  const okBeforeExpiry = load.ok;
  await waitFor(() => Date.now() > expiresAt + 3000, 30_000);
  const early = load.errorEvents.filter((e) => e.at < expiresAt);
  const atExpiry = load.errorEvents.filter((e) => e.at >= expiresAt);
  const unclear = atExpiry.filter((e) => !/expired/.test(e.message ?? ''));
  if (unclear.length) problems.push(`${unclear.length} clients were closed at expiry without a clear message: ${unclear[0]!.message}`);
  const closedWorkers = new Set(atExpiry.map((e) => e.worker));
  const lags = [...closedWorkers].map((w) => atExpiry.find((e) => e.worker === w)!.at - expiresAt);
  if (early.length) problems.push(`${early.length} connections ended before the session expired: ${early[0]!.message}`);
  if (closedWorkers.size !== o.workers) problems.push(`${o.workers - closedWorkers.size} clients were not closed at expiry`);
  // They log in again: a new session opens for them.
  const reopenedAt = Date.now();
  const back = await waitFor(() => load.lastOk.every((t) => t > reopenedAt), 15_000);
  if (!back) problems.push('clients could not log in again after the expiry');
  await load.stop();
  common(world, problems);
  return {
    name: 'sessions expiring under load',
    figures: {
      workers: o.workers,
      'queries before expiry': okBeforeExpiry,
      'closed before expiry': early.length,
      'closed at expiry': closedWorkers.size,
      'close lag after expiry, max (ms)': lags.length ? Math.max(...lags) : 'none',
    },
    problems,
  };
}

/** Secrets Manager unreachable for a while: logins keep working on the last known users. */
export async function secretsManagerOutage(world: World, o: { seconds: number; workers: number }): Promise<Report> {
  const problems: string[] = [];
  const sm = world.secretsManager;
  if (!sm) throw new Error('secretsManagerOutage needs a world started with { aws: true }');
  const load = new Load({ workers: o.workers, config: world.clientConfig('soak'), churn: 5 }).start();
  await sleep(1000);
  await sm.setOutage('refuse');
  const loginsBefore = load.connects;
  await sleep(o.seconds * 1000);
  const loginsDuringOutage = load.connects - loginsBefore;
  const failuresLogged = (world.proxy.output().match(/users\.source-failed/g) ?? []).length;
  await sm.setOutage(false);
  const recovered = await waitFor(() => /users\.source-recovered/.test(world.proxy.output()), 60_000);
  await sleep(500);
  await load.stop();
  if (load.errors) problems.push(`${load.errors} client errors during the outage: ${[...load.messages.keys()].join('; ')}`);
  if (loginsDuringOutage === 0) problems.push('no logins happened during the outage (the fault was not exercised)');
  if (failuresLogged === 0) problems.push('the outage was not reported');
  if (!recovered) problems.push('the user store did not recover within 60 s after Secrets Manager came back');
  common(world, problems);
  return {
    name: 'Secrets Manager unreachable',
    figures: {
      workers: o.workers,
      'outage (s)': o.seconds,
      'logins during the outage': loginsDuringOutage,
      'failed refreshes logged (backing off)': failuresLogged,
      'client errors': load.errors,
    },
    problems,
  };
}

/** Many clients connected at once for a while: the proxy's memory and descriptors stay flat. */
export async function manyClients(world: World, o: { clients: number; seconds: number }): Promise<Report> {
  const problems: string[] = [];
  const pid = world.proxy.process.pid!;
  const load = new Load({ workers: o.clients, config: world.clientConfig('soak'), pauseMs: 1000, retryMs: 500 }).start();
  const connected = await waitFor(() => load.lastOk.every((t) => t > 0), 120_000);
  if (!connected) problems.push(`only ${load.lastOk.filter((t) => t > 0).length} of ${o.clients} clients got in`);
  const samples: { rss: number; fds: number }[] = [];
  const end = Date.now() + o.seconds * 1000;
  while (Date.now() < end) {
    samples.push({ rss: rssMb(pid), fds: openFds(pid) });
    await sleep(Math.min(2000, (o.seconds * 1000) / 10));
  }
  const okDuring = load.ok;
  await load.stop();
  // After warm-up (the first third), memory may wobble with GC but must not climb.
  const steady = samples.slice(Math.floor(samples.length / 3));
  const rss = steady.map((x) => x.rss);
  const fds = steady.map((x) => x.fds);
  const growth = rss[rss.length - 1]! - rss[0]!;
  if (growth > 32) problems.push(`memory grew ${growth.toFixed(0)} MB while the load was steady`);
  if (Math.max(...rss) > 400) problems.push(`proxy memory reached ${Math.max(...rss).toFixed(0)} MB`);
  if (Math.max(...fds) - Math.min(...fds) > 10) problems.push(`file descriptors moved between ${Math.min(...fds)} and ${Math.max(...fds)}`);
  if (load.errors) problems.push(`${load.errors} client errors: ${[...load.messages.keys()].slice(0, 3).join('; ')}`);
  await sleep(1000);
  common(world, problems);
  return {
    name: `${o.clients} clients connected for ${o.seconds} s`,
    figures: {
      clients: o.clients,
      queries: okDuring,
      'client errors': load.errors,
      'proxy RSS min/max (MB, steady)': `${Math.min(...rss).toFixed(0)}/${Math.max(...rss).toFixed(0)}`,
      'proxy fds min/max (steady)': `${Math.min(...fds)}/${Math.max(...fds)}`,
      'fds after the clients left': openFds(pid),
    },
    problems,
  };
}
