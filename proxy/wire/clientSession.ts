/**
 * One client connection, start to finish: startup negotiation (SSL/GSS answered `N`,
 * protocol version), authentication of the identity, landing on a policy's session role,
 * the upstream login as that role, and then the byte relay. The client sees
 * AuthenticationOk only after the upstream accepted the login, so a server-side rejection
 * reaches it as the server's own FATAL error.
 */
import net from 'node:net';
import tls from 'node:tls';
import { authenticate } from './auth/exchange';
import { serverEndPointOf } from './auth/channelBinding';
import { FrameReader } from './frameReader';
import { resolveIdentity, splitOptions } from './identity';
import { authenticationOk, backendKeyData, fatal, negotiateProtocolVersion, readyForQuery } from './protocol/backend';
import { MAX_AUTH_MESSAGE, MAX_STARTUP_PACKET, NEWEST_MINOR, SQLSTATE } from './protocol/codes';
import { FrameDecoder } from './protocol/frames';
import { cancelRequest } from './protocol/frontend';
import { parseStartupPacket, type Startup } from './protocol/startup';
import { Relay } from './relay';
import { isLoopbackAddress } from './address';
import { land } from './landing';
import { parameterStatusBytes, type UpstreamTarget } from './upstream';
import type { PooledConnection } from './pool';
import type { WireDeps } from './wireDeps';
import { SocketInput } from './socketInput';
import { acceptTls, isClientHello } from './tlsHandshake';

export type { WireDeps } from './wireDeps';


const AUTHENTICATION_OK = authenticationOk();
const READY_IDLE = readyForQuery('I');

/** Clients send queries and COPY data; results, the bulk, come from the server side. */
const CLIENT_READ_BUFFER = 16 * 1024;

/** Startup parameters we handle ourselves rather than pass to the server. */
const OWN_PARAMS = new Set(['user', 'database', 'options', 'replication']);

export class ClientSession {
  private reader: FrameReader;
  private encrypted = false;
  private readonly source: string;
  private target?: UpstreamTarget;
  /** The server connection this client holds, from login until it leaves. */
  private conn?: PooledConnection;
  private relay?: Relay;
  /** The session role this client is logged in as upstream, once it is. */
  role?: string;
  /** A FATAL of our own is on its way (terminate()). */
  private terminating = false;
  /** The user-store identity that logged in (not set for session roles logging in as themselves). */
  identity?: string;
  /** The database it is connected to. */
  database?: string;
  private cancelPid?: number;

  constructor(
    private socket: net.Socket,
    private readonly deps: WireDeps,
  ) {
    this.source = socket.remoteAddress ?? 'unknown';
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // reported through the reader / relay
    this.reader = new FrameReader(socket, new FrameDecoder('startup', MAX_STARTUP_PACKET));
  }

  async run(): Promise<void> {
    // authentication_timeout: a client that stalls before login is dropped.
    const timer = setTimeout(() => this.socket.destroy(), this.deps.authTimeoutMs);
    try {
      await this.start();
    } catch (e) {
      this.deps.log.log('error', 'wire.internal-error', { source: this.source, error: (e as Error).message });
      this.close(fatal(SQLSTATE.internalError, 'internal error in the Mayfly proxy'));
    } finally {
      clearTimeout(timer);
    }
  }

  private close(final?: Buffer): void {
    if (final && this.socket.writable) this.socket.end(final);
    else this.socket.destroy();
  }

  private async start(): Promise<void> {
    const startup = await this.readStartup();
    if (!startup) return;
    const minor = Math.min(startup.minor, NEWEST_MINOR);
    if (startup.minor > NEWEST_MINOR || startup.protocolOptions.length)
      this.socket.write(negotiateProtocolVersion(minor, startup.protocolOptions));
    const replication = startup.params.get('replication');
    if (replication && !['false', 'off', 'no', '0'].includes(replication.toLowerCase()))
      return this.close(fatal(SQLSTATE.featureNotSupported, 'replication connections are not supported through the Mayfly proxy'));

    const { policy: optionPolicy, target: wantedTarget, upstreamOptions } = splitOptions(startup.params.get('options'));
    const identity = resolveIdentity(startup.user, optionPolicy, this.deps);
    const limitKey = `${startup.user}|${this.source}`;
    if (!this.deps.limiter.allowed(limitKey)) {
      this.deps.log.log('warn', 'auth.rate-limited', { user: startup.user, source: this.source });
      return this.close(fatal(SQLSTATE.invalidPassword, 'too many failed authentication attempts; try again later'));
    }
    this.reader.decoder.mode = 'message';
    this.reader.decoder.maxLength = MAX_AUTH_MESSAGE;
    const outcome = await authenticate(
      startup.user,
      identity.credential,
      { write: (b) => this.socket.write(b), next: () => this.reader.next() },
      serverEndPointOf(this.socket, this.deps.tls),
    );
    if (!outcome.ok) {
      if (outcome.abandoned) {
        this.deps.log.log('debug', 'auth.abandoned', { user: startup.user, source: this.source });
        return this.close();
      }
      this.deps.limiter.recordFailure(limitKey);
      this.deps.log.log('warn', 'auth.failure', { user: startup.user, source: this.source, kind: identity.kind, reason: outcome.reason });
      // Identical for unknown users and wrong passwords; protocol errors say so.
      if (outcome.protocol) return this.close(fatal(SQLSTATE.protocolViolation, outcome.reason));
      return this.close(fatal(SQLSTATE.invalidPassword, `password authentication failed for user "${startup.user}"`));
    }

    const landing = await land(identity, startup, outcome.clientKey, this.deps, wantedTarget);
    if ('error' in landing) {
      this.deps.log.log('warn', 'auth.denied', { user: startup.user, source: this.source, reason: landing.error.toString('utf8', 5).replace(/\0/g, ' ').trim() });
      return this.close(landing.error);
    }
    const params: Record<string, string> = {};
    for (const [k, v] of startup.params) if (!OWN_PARAMS.has(k)) params[k] = v;
    if (upstreamOptions) params.options = upstreamOptions;
    const target: UpstreamTarget = {
      host: landing.granter.host,
      port: landing.granter.port,
      user: landing.role,
      credential: landing.credential,
      database: landing.database,
      params,
      sslmode: landing.granter.sslmode,
      ...(landing.granter.sslrootcert ? { sslrootcert: landing.granter.sslrootcert } : {}),
    };
    this.target = target;
    const lease = await this.deps.pool.acquire(target, { origin: landing.origin, fingerprint: landing.fingerprint });
    if (!lease.ok) {
      this.deps.log.log('warn', lease.full ? 'wire.pool-full' : 'auth.upstream-failed', {
        user: startup.user,
        role: landing.role,
        database: landing.database,
        source: this.source,
        error: lease.message,
      });
      return this.close(
        lease.error ??
          (lease.full
            ? fatal(SQLSTATE.tooManyConnections, lease.message, 'try again later, or raise --max-upstream')
            : fatal(SQLSTATE.connectionFailure, `Mayfly could not log in to the database server as ${landing.role}: ${lease.message}`)),
      );
    }
    const conn = lease.conn;
    if (this.socket.destroyed) {
      // Untouched by this client: as good as new for the next one.
      this.deps.pool.release(conn, 'reuse');
      return;
    }
    this.conn = conn;
    this.role = landing.role;
    this.database = landing.database;
    if (identity.kind === 'user') this.identity = identity.name;
    const { pid, key } = this.deps.cancels.register(this, minor >= 2 ? 32 : 4);
    this.cancelPid = pid;
    this.deps.log.log('info', 'auth.success', {
      user: startup.user,
      source: this.source,
      kind: identity.kind,
      method: outcome.method,
      // Whether the client's leg was encrypted, for audits of who connected how.
      ...(this.socket instanceof tls.TLSSocket ? { tls: true } : {}),
      ...(landing.policy ? { policy: landing.policy } : {}),
      role: landing.role,
      database: landing.database,
      ...(lease.reused ? { pooled: true } : {}),
    });
    // The server's parameter values as they are now (a reset reports what it restored),
    // the login's notices only to the client that caused the login, and our own cancel key.
    this.socket.write(
      Buffer.concat([
        AUTHENTICATION_OK,
        parameterStatusBytes(conn.upstream),
        ...(lease.reused ? [] : conn.upstream.notices),
        backendKeyData(pid, key),
        READY_IDLE,
      ]),
    );
    this.startRelay(conn);
  }

  /**
   * Startup packets until the StartupMessage; SSLRequest gets TLS (or `N`), GSSENCRequest `N`.
   * A TLS ClientHello as the very first bytes is direct TLS (PostgreSQL 17's
   * sslnegotiation=direct); read as a startup packet its length is absurd, so it shows up
   * here as a framing error.
   */
  private async readStartup(): Promise<Startup | undefined> {
    for (let first = true; ; first = false) {
      const f = await this.reader.next();
      if (f instanceof Error) return this.close(), undefined;
      if (f.kind === 'error' && first) {
        const received = this.reader.detach();
        if (isClientHello(received)) {
          if (!this.deps.tls) {
            this.deps.log.log('warn', 'wire.direct-tls-refused', { source: this.source, reason: 'TLS is not configured on this proxy' });
            return this.close(), undefined;
          }
          if (!(await this.startTls(this.deps.tls, received))) return undefined;
          continue;
        }
      }
      if (f.kind === 'error') return this.close(fatal(f.code, f.message)), undefined;
      if (f.kind !== 'startup') return this.close(), undefined;
      const p = parseStartupPacket(f.packet);
      switch (p.kind) {
        case 'error':
          this.deps.log.log('debug', 'wire.bad-startup', { source: this.source, error: p.message });
          return this.close(fatal(p.code, p.message)), undefined;
        case 'ssl':
        case 'gssenc':
          // Bytes after the request and before our answer would be read as if encrypted
          // (CVE-2021-3935): refuse them.
          if (this.reader.pending > 0) {
            this.deps.log.log('warn', 'wire.smuggled-bytes', { source: this.source });
            return this.close(), undefined;
          }
          if (p.kind === 'ssl' && this.deps.tls && !this.encrypted) {
            if (!(await this.startTls(this.deps.tls))) return this.close(), undefined;
            break;
          }
          // GSS is never offered (nor TLS without a certificate): the client continues in plaintext or gives up.
          this.socket.write('N');
          break;
        case 'cancel': {
          const outcome = this.deps.cancels.cancel(p.pid, p.key);
          this.deps.log.log('debug', 'wire.cancel', { source: this.source, outcome });
          return this.close(), undefined;
        }
        case 'startup':
          if (this.deps.requireTlsForRemote && !this.encrypted && !isLoopbackAddress(this.source))
            return this.close(fatal(SQLSTATE.invalidAuthorization, 'connections from other hosts must use TLS (sslmode=require)')), undefined;
          return p;
      }
    }
  }

  /**
   * Continues the startup phase inside TLS on the same connection: after an SSLRequest
   * (answered `S` here), or directly, with `clientHello` the handshake bytes already read.
   */
  private async startTls(context: tls.SecureContext, clientHello?: Buffer): Promise<boolean> {
    this.reader.detach();
    const raw = this.socket;
    if (!clientHello) raw.write('S');
    const result = await acceptTls(raw, context, clientHello);
    if (!result.ok) {
      this.deps.log.log('warn', clientHello ? 'wire.direct-tls-refused' : 'wire.tls-failed', { source: this.source, reason: result.reason });
      return false;
    }
    const secure = result.socket;
    secure.on('error', () => undefined);
    this.socket = secure;
    this.encrypted = true;
    this.reader = new FrameReader(secure, new FrameDecoder('startup', MAX_STARTUP_PACKET));
    return true;
  }

  private startRelay(conn: PooledConnection): void {
    const leftover = this.reader.detach();
    const input = new SocketInput(this.socket, () => undefined, { bufferSize: CLIENT_READ_BUFFER });
    this.relay = new Relay(this.socket, input, conn.upstream, (by, error) => this.relayEnded(by, error));
    if (leftover.length) input.handler(leftover);
    input.begin();
  }

  /** Where the server connection goes when the session ends: back to the pool only if clean. */
  private relayEnded(by: 'client' | 'server', error?: Error): void {
    const relay = this.relay!;
    if (this.cancelPid !== undefined) this.deps.cancels.unregister(this.cancelPid);
    if (by === 'server') {
      this.giveBack('destroy');
      if (this.socket.destroyed) return;
      // An upstream that vanished mid-session: tell the client, if we are between messages.
      if (relay.back.atBoundary) this.socket.end(fatal(SQLSTATE.connectionFailure, 'the database server closed the connection'));
      else this.socket.destroy();
      return;
    }
    if (relay.reusable) this.giveBack('reuse');
    else {
      // Left mid-query, mid-transaction or mid-COPY: that server connection is not reusable.
      if (relay.pending > 0) this.cancelUpstream();
      this.giveBack(relay.front.atBoundary ? 'terminate' : 'destroy');
    }
    if (error) this.socket.destroy();
    else this.socket.end();
  }

  /**
   * Ends the connection with a FATAL of our own (e.g. the session expired). The client's
   * further messages are dropped; the FATAL goes out as soon as the server's output is
   * between messages (normally at once, or when the message in flight is complete), and
   * only if that takes longer than a second is the connection simply closed. The server
   * connection is closed too: its role is no longer live.
   */
  terminate(code: string, text: string): void {
    if (this.socket.destroyed || this.terminating) return;
    this.terminating = true;
    const relay = this.relay;
    if (!relay || !this.conn) {
      this.socket.end(fatal(code, text));
      return;
    }
    const end = (clean: boolean): void => {
      clearTimeout(timer);
      relay.stop();
      if (this.cancelPid !== undefined) this.deps.cancels.unregister(this.cancelPid);
      this.giveBack(clean && relay.front.atBoundary ? 'terminate' : 'destroy');
      if (this.socket.destroyed) return;
      if (clean) this.socket.end(fatal(code, text));
      else this.socket.destroy();
    };
    const timer = setTimeout(() => end(false), 1000);
    relay.drain(() => end(true));
  }

  /** Returns the server connection once; another client may hold it right after. */
  private giveBack(how: 'reuse' | 'terminate' | 'destroy'): void {
    const conn = this.conn;
    this.conn = undefined;
    if (conn) this.deps.pool.release(conn, how);
  }

  busy(): boolean {
    return this.conn !== undefined && this.relay !== undefined && this.relay.pending > 0;
  }

  cancelUpstream(): void {
    const u = this.conn?.upstream;
    const t = this.target;
    if (!u || !t) return;
    // A CancelRequest goes on a new plaintext connection, as libpq sends it.
    const s = t.host.startsWith('/') ? net.connect({ path: `${t.host}/.s.PGSQL.${t.port}` }) : net.connect({ host: t.host, port: t.port });
    s.on('error', () => undefined);
    s.on('connect', () => s.end(cancelRequest(u.backendPid, u.backendKey)));
  }
}
