/** `mayfly` command line: parses arguments and dispatches to one command module. */
import { parseArgs } from 'node:util';
import { consoleOutput, type Output } from './output';
import { policyCheck, policyShow } from './policyCommands';
import { proxyCommand } from './proxyCommand';
import { execCommand, sessionList, sessionOpen, sessionRenew, sessionRevoke, sweepCommand } from './sessionCommands';
import { ControlError } from '../control/client';

const USAGE = `usage: mayfly <command> [options]

  policy check FILE... [--entry NAME]...   validate policy files (FILE:LINE:COL: error|warning: MESSAGE [CODE])
  policy show FILE [--json]                each policy's session role and grants

  proxy --config NAME=VALUE...             run Mayfly (control API; Ctrl-C stops it)
        [--listen HOST:PORT]               also serve the local Postgres proxy (default port 6432)
        [--users SPEC]... [--users-refresh 15s]
                                           who may log in: FILE, aws:SECRET_ID, aws-prefix:PREFIX,
                                           aws-tag:KEY=VALUE (AWS Secrets Manager; repeatable)
        [--aws-region R] [--aws-profile P] [--aws-endpoint URL]
                                           AWS settings (default: the AWS CLI's environment and files)
        [--primary ENTRY]                  pass users without a policy through to ENTRY's server
        [--replica ENTRY]...               read replicas for read-only sessions (-c mayfly.target=replica)
        [--tls-cert FILE --tls-key FILE | --no-tls] [--allow-remote]
                                           TLS for clients (default: a self-signed certificate in ~/.mayfly/tls)
        [--pool-size 20] [--max-upstream 90] [--pool-idle-timeout 5m] [--pool-wait 10s]
                                           server connection pooling: idle connections kept per role,
                                           database and settings (0 = off); server connections in all;
                                           when idle ones close; how long a login waits at the cap
  session open POLICY [--env|--json] [--rotate] [--via-proxy]
                                           --via-proxy: PGHOST/PGPORT of the running proxy's --listen address
  session list [--json]
  session renew POLICY|ID
  session revoke POLICY|ID
  exec POLICY [--via-proxy] -- COMMAND [ARGS...]
                                           run a command with the session's credentials
  sweep [--grace 1h]                       drop Mayfly roles expired for longer than the grace period

  --config NAME=VALUE   hoop-style plugin config: policy-config=path:FILE, and one entry per
                        granter DSN: NAME=env:VAR | NAME=path:FILE | NAME=postgres://...
                        (session/exec/sweep use a running proxy when there is one)
  --control PATH        control socket (default ~/.mayfly/run/control.sock)
`;

const OPTIONS = {
  config: { type: 'string', multiple: true },
  control: { type: 'string' },
  entry: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  env: { type: 'boolean' },
  rotate: { type: 'boolean' },
  'via-proxy': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  debug: { type: 'boolean' },
  grace: { type: 'string' },
  listen: { type: 'string' },
  users: { type: 'string', multiple: true },
  'users-refresh': { type: 'string' },
  'aws-region': { type: 'string' },
  'aws-profile': { type: 'string' },
  'aws-endpoint': { type: 'string' },
  primary: { type: 'string' },
  replica: { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'no-tls': { type: 'boolean' },
  'allow-remote': { type: 'boolean' },
  'pool-size': { type: 'string' },
  'max-upstream': { type: 'string' },
  'pool-idle-timeout': { type: 'string' },
  'pool-wait': { type: 'string' },
} as const;

export async function runCli(argv: string[], out: Output = consoleOutput): Promise<number> {
  const dashdash = argv.indexOf('--');
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const trailing = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const [command, ...rest] = own;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out.log(USAGE);
    return command ? 0 : 2;
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: OPTIONS, strict: true });
    // `mayfly session open --help` is how people look for options: answer, don't complain.
    if (values.help) {
      out.log(USAGE);
      return 0;
    }
    const common = { config: values.config, control: values.control, debug: values.debug };
    const [sub, arg] = positionals;
    switch (command) {
      case 'policy':
        if (sub === 'check') return policyCheck(positionals.slice(1), values.entry, out);
        if (sub === 'show') return policyShow(arg, values.json ?? false, out);
        break;
      case 'proxy':
        return await proxyCommand(
          {
            config: values.config ?? [],
            control: values.control,
            json: values.json,
            debug: values.debug,
            listen: values.listen,
            users: values.users,
            usersRefresh: values['users-refresh'],
            awsRegion: values['aws-region'],
            awsProfile: values['aws-profile'],
            awsEndpoint: values['aws-endpoint'],
            primary: values.primary,
            replicas: values.replica,
            tlsCert: values['tls-cert'],
            tlsKey: values['tls-key'],
            noTls: values['no-tls'],
            allowRemote: values['allow-remote'],
            poolSize: values['pool-size'],
            maxUpstream: values['max-upstream'],
            poolIdleTimeout: values['pool-idle-timeout'],
            poolWait: values['pool-wait'],
          },
          out,
        );
      case 'session':
        if (sub === 'open') return await sessionOpen(arg, { ...common, json: values.json, env: values.env, rotate: values.rotate, viaProxy: values['via-proxy'] }, out);
        if (sub === 'list') return await sessionList({ ...common, json: values.json }, out);
        if (sub === 'renew') return await sessionRenew(arg, common, out);
        if (sub === 'revoke') return await sessionRevoke(arg, common, out);
        break;
      case 'exec':
        return await execCommand(sub, trailing, { ...common, rotate: values.rotate, viaProxy: values['via-proxy'] }, out);
      case 'sweep':
        return await sweepCommand({ ...common, grace: values.grace, json: values.json }, out);
    }
  } catch (e) {
    // Every error Mayfly raises is written to be shown: it names the cause and never a secret.
    out.err(`mayfly: ${(e as Error).message}${e instanceof ControlError && e.reason ? ` [${e.reason}]` : ''}`);
    return 1;
  }
  out.err(`mayfly: unknown command "${own.slice(0, 2).join(' ')}"\n${USAGE}`);
  return 2;
}
