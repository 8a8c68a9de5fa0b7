/**
 * The control API: JSON over HTTP on a Unix socket. The extension and the CLI use it to
 * open, renew and revoke sessions. Access control is the socket's directory (0700) and
 * mode (0600): other local users cannot connect at all.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { ensurePrivateDir } from './paths';
import { SessionError } from '../sessions/types';
import type { ErrorBody } from './protocol';

export type Handler = (body: unknown, params: Record<string, string>) => Promise<unknown>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

export class ControlServer {
  private readonly routes: Route[] = [];
  private server?: http.Server;

  route(method: string, pathPattern: string, handler: Handler): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' + pathPattern.replace(/:(\w+)/g, (_, k: string) => (keys.push(k), '([^/]+)')) + '$',
    );
    this.routes.push({ method, pattern, keys, handler });
    return this;
  }

  async listen(socketPath: string): Promise<void> {
    ensurePrivateDir(path.dirname(socketPath));
    await removeStaleSocket(socketPath);
    const server = http.createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // umask so the socket is never, even briefly, reachable by others. Node binds a Unix
      // socket synchronously inside listen(), so the umask is restored in the same tick:
      // files other code creates meanwhile (in this process) keep their usual modes.
      const old = process.umask(0o177);
      try {
        server.listen(socketPath, () => resolve());
      } finally {
        process.umask(old);
      }
    });
    fs.chmodSync(socketPath, 0o600);
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections?.();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://mayfly');
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const route = this.routes.find((r) => r.method === req.method && r.pattern.test(url.pathname));
    if (!route) return send(404, { error: `no route ${req.method} ${url.pathname}` } satisfies ErrorBody);
    const m = route.pattern.exec(url.pathname)!;
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    route.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1]!)));
    let body: unknown = undefined;
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > 1 << 20) return send(413, { error: 'request body too large' });
        chunks.push(chunk as Buffer);
      }
      if (chunks.length) body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(400, { error: 'request body is not valid JSON' });
    }
    try {
      send(200, await route.handler(body, params));
    } catch (e) {
      if (e instanceof SessionError) {
        const status = e.reason === 'unknown-policy' || e.reason === 'unknown-session' ? 404 : e.reason === 'role-in-use' ? 409 : 422;
        return send(status, { error: e.message, reason: e.reason });
      }
      send(500, { error: (e as Error).message, reason: 'internal' });
    }
  }
}

/** A socket file left by a crashed proxy is removed; a live one means a proxy is running. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  if (!fs.existsSync(socketPath)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`a Mayfly proxy is already running (control socket ${socketPath}); stop it first or use --control PATH`);
  fs.unlinkSync(socketPath);
}
