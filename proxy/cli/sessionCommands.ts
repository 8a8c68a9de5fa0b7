/** `mayfly session open|list|renew|revoke`, `mayfly exec`, `mayfly sweep`. */
import { spawn } from 'node:child_process';
import { planPolicy } from '../../policy';
import { parseGoDuration } from '../../policy/duration';
import * as provision from '../provision';
import { sessionEnv, type SessionInfo } from '../sessions/types';
import { ControlClient } from '../control/client';
import { defaultControlSocket } from '../control/paths';
import type { WireEndpoint } from '../control/protocol';
import { proxyEndpoint } from '../control/viaProxy';
import { connect, type Target } from './context';
import type { Output } from './output';

export interface CommonOptions {
  config?: string[];
  control?: string;
  debug?: boolean;
}

/** With `viaProxy`, the running proxy and its Postgres listener, or else the usual target. */
async function withTarget<T>(
  opts: CommonOptions & { viaProxy?: boolean },
  out: Output,
  fn: (t: Target, via?: WireEndpoint) => Promise<T>,
): Promise<T> {
  const { target, via } = opts.viaProxy ? await listeningProxy(opts) : { target: await connect(opts, out), via: undefined };
  try {
    return await fn(target, via);
  } finally {
    await target.close();
  }
}

/**
 * --via-proxy: credentials that point at the running proxy's Postgres listener. Checked
 * before anything is opened, so a refused --via-proxy changes nothing; never falls back to
 * provisioning directly, since only a running proxy can accept the session role.
 */
async function listeningProxy(opts: CommonOptions): Promise<{ target: Target; via: WireEndpoint }> {
  const client = new ControlClient(opts.control ?? defaultControlSocket());
  if (!(await client.available()))
    throw new Error(
      `no Mayfly proxy is running (none answers on ${client.socketPath}), and --via-proxy points the session at one: start it with \`mayfly proxy --config ... --listen 127.0.0.1:6432\`, or leave out --via-proxy to connect to the server`,
    );
  const health = await client.health();
  const via = proxyEndpoint(health);
  if (!via)
    throw new Error(
      `the running Mayfly proxy (pid ${health.pid}) does not listen for Postgres clients, so --via-proxy has nowhere to point: restart it with --listen 127.0.0.1:6432 (any free port works), or leave out --via-proxy to connect to the server`,
    );
  return { target: { kind: 'proxy', client, close: async () => undefined }, via };
}

async function openOn(t: Target, policy: string, rotate: boolean): Promise<SessionInfo> {
  return t.kind === 'proxy' ? t.client!.open({ policy, rotate }) : t.app!.sessions.open(policy, { rotate });
}

export async function sessionOpen(
  policy: string | undefined,
  opts: CommonOptions & { json?: boolean; env?: boolean; rotate?: boolean; viaProxy?: boolean },
  out: Output,
): Promise<number> {
  if (!policy) {
    out.err('usage: mayfly session open POLICY [--env|--json] [--via-proxy] [--config NAME=VALUE]...');
    return 2;
  }
  return withTarget(opts, out, async (t, via) => {
    const s = await openOn(t, policy, opts.rotate ?? false);
    const env = sessionEnv(s, via);
    if (opts.json) out.log(JSON.stringify({ ...env, expiresAt: s.expiresAt, policy: s.policy, databases: s.databases, id: s.id }, null, 2));
    else for (const [k, v] of Object.entries(env)) out.log(`${k}=${v}`);
    if (t.kind === 'direct')
      out.err(
        `mayfly: no proxy is running, so this password is not kept anywhere: until ${s.expiresAt} another open of ${s.role} needs --rotate (which ends this one)`,
      );
    return 0;
  });
}

export async function sessionList(opts: CommonOptions & { json?: boolean }, out: Output): Promise<number> {
  const client = (await connect({ control: opts.control }, out).catch(() => undefined))?.client;
  if (!client) {
    out.err('mayfly: no proxy is running, so there are no sessions to list');
    return 1;
  }
  const sessions = await client.sessions();
  if (opts.json) out.log(JSON.stringify(sessions.map(({ password: _p, ...s }) => s), null, 2));
  else if (!sessions.length) out.log('no open sessions');
  else for (const s of sessions) out.log(`${s.id}  ${s.policy}  ${s.role}  expires ${s.expiresAt}`);
  return 0;
}

export async function sessionRenew(id: string | undefined, opts: CommonOptions, out: Output): Promise<number> {
  if (!id) {
    out.err('usage: mayfly session renew POLICY|ID');
    return 2;
  }
  const client = (await connect({ control: opts.control }, out).catch(() => undefined))?.client;
  if (!client) {
    out.err('mayfly: no proxy is running; only the proxy holds sessions that can be renewed');
    return 1;
  }
  for (const s of await client.renew(id)) out.log(`renewed ${s.policy} (${s.role}) until ${s.expiresAt}`);
  return 0;
}

export async function sessionRevoke(policyOrId: string | undefined, opts: CommonOptions, out: Output): Promise<number> {
  if (!policyOrId) {
    out.err('usage: mayfly session revoke POLICY|ID [--config NAME=VALUE]...');
    return 2;
  }
  return withTarget(opts, out, async (t) => {
    if (t.kind === 'proxy') {
      const r = await t.client!.revoke(policyOrId);
      out.log(
        `revoked ${r.revoked} session${r.revoked === 1 ? '' : 's'}` +
          (r.roleExpired ? '; the role is expired and its connections ended' : r.stillShared ? `; the role stays live for ${r.stillShared} other session(s)` : ''),
      );
      return 0;
    }
    // Direct: expire the policy's role on the server and end its connections.
    const app = t.app!;
    const policy = app.policies.get(policyOrId);
    if (!policy?.valid || !policy.pluginConfigEntry) throw new Error(`no valid policy named "${policyOrId}"`);
    const role = planPolicy(policy).role;
    const r = await provision.expireRole(await app.granter(policy.pluginConfigEntry), role, { terminate: true });
    out.log(`${r.expired ? 'expired' : 'did not expire'} ${role}; ended ${r.terminated} connection${r.terminated === 1 ? '' : 's'}`);
    return 0;
  });
}

export async function execCommand(
  policy: string | undefined,
  command: string[],
  opts: CommonOptions & { rotate?: boolean; viaProxy?: boolean },
  out: Output,
): Promise<number> {
  if (!policy || command.length === 0) {
    out.err('usage: mayfly exec POLICY [--via-proxy] [--config NAME=VALUE]... -- COMMAND [ARGS...]');
    return 2;
  }
  return withTarget(opts, out, async (t, via) => {
    const s = await openOn(t, policy, opts.rotate ?? false);
    try {
      return await new Promise<number>((resolve, reject) => {
        const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env: { ...process.env, ...sessionEnv(s, via) } });
        const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
        process.on('SIGINT', forward).on('SIGTERM', forward);
        child.on('error', (e) => reject(new Error(`cannot run ${command[0]}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
        child.on('exit', (code, signal) => {
          process.off('SIGINT', forward).off('SIGTERM', forward);
          resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1));
        });
      });
    } finally {
      // exec's session is bound to the command: end it (the role stays if others share it).
      try {
        if (t.kind === 'proxy') await t.client!.revoke(s.id);
        else await t.app!.sessions.revoke(s.id);
      } catch (e) {
        out.err(`mayfly: could not end the session: ${(e as Error).message}`);
      }
    }
  });
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal];
}

export async function sweepCommand(opts: CommonOptions & { grace?: string; json?: boolean }, out: Output): Promise<number> {
  const grace = parseGoDuration(opts.grace ?? '1h');
  if (!grace.ok || grace.ns < 0) {
    out.err(`mayfly: --grace must be a duration such as 1h or 30m`);
    return 2;
  }
  return withTarget(opts, out, async (t) => {
    const reports = t.kind === 'proxy' ? (await t.client!.sweep()).reports : await t.app!.sweep(grace.ns / 1e6);
    out.log(JSON.stringify(reports, null, 2));
    return (reports as { error?: string }[]).some((r) => r.error) ? 1 : 0;
  });
}
