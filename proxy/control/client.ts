/** The one control API client, shared by the CLI and the VS Code extension. */
import http from 'node:http';
import fs from 'node:fs';
import type { Health, OpenRequest, PoliciesResponse, RevokeResponse, SessionInfo, SweepResponse } from './protocol';

export class ControlError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

export class ControlClient {
  constructor(readonly socketPath: string) {}

  /** True when a proxy answers on the socket. */
  async available(): Promise<boolean> {
    if (!fs.existsSync(this.socketPath)) return false;
    try {
      await this.health();
      return true;
    } catch {
      return false;
    }
  }

  health(): Promise<Health> {
    return this.call('GET', '/health');
  }
  policies(): Promise<PoliciesResponse> {
    return this.call('GET', '/policies');
  }
  sessions(): Promise<SessionInfo[]> {
    return this.call('GET', '/sessions');
  }
  open(req: OpenRequest): Promise<SessionInfo> {
    return this.call('POST', '/sessions', req);
  }
  renew(idOrPolicy: string): Promise<SessionInfo[]> {
    return this.call('POST', `/sessions/${encodeURIComponent(idOrPolicy)}/renew`);
  }
  revoke(idOrPolicy: string): Promise<RevokeResponse> {
    return this.call('DELETE', `/sessions/${encodeURIComponent(idOrPolicy)}`);
  }
  sweep(): Promise<SweepResponse> {
    return this.call('POST', '/sweep');
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          socketPath: this.socketPath,
          path,
          method,
          headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
          timeout: 120_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              return reject(new ControlError('the proxy sent an invalid response', res.statusCode ?? 0));
            }
            if ((res.statusCode ?? 500) >= 400) {
              const err = parsed as { error?: string; reason?: string };
              return reject(new ControlError(err.error ?? 'request failed', res.statusCode ?? 500, err.reason));
            }
            resolve(parsed as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('the proxy did not answer in time')));
      req.on('error', (e) => reject(e));
      if (data) req.write(data);
      req.end();
    });
  }
}
