/** Drives `node dist/server.js --stdio` over real JSON-RPC, as an editor would. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { PublishDiagnosticsParams } from 'vscode-languageserver-protocol';

export const SERVER = path.resolve(__dirname, '..', '..', 'dist', 'server.js');

export class LspClient {
  readonly conn: MessageConnection;
  private readonly proc: ChildProcess;
  private readonly waiters: { uri: string; version?: number; resolve: (p: PublishDiagnosticsParams) => void }[] = [];
  readonly published: PublishDiagnosticsParams[] = [];
  stderr = '';

  constructor(execArgv: string[] = []) {
    this.proc = spawn(process.execPath, [...execArgv, SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.conn = createMessageConnection(new StreamMessageReader(this.proc.stdout!), new StreamMessageWriter(this.proc.stdin!));
    this.conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      this.published.push(p);
      for (const w of [...this.waiters])
        if (w.uri === p.uri && (w.version === undefined || w.version === p.version)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(p);
        }
    });
    this.conn.onRequest('workspace/configuration', () => [{}]);
    this.conn.onRequest('client/registerCapability', () => null);
    this.conn.listen();
  }

  async initialize(initializationOptions: unknown = {}): Promise<{ capabilities: Record<string, unknown> }> {
    const result = await this.conn.sendRequest<{ capabilities: Record<string, unknown> }>('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: { textDocument: { publishDiagnostics: { versionSupport: true, relatedInformation: true } } },
      initializationOptions,
    });
    await this.conn.sendNotification('initialized', {});
    return result;
  }

  diagnosticsFor(uri: string, version?: number): Promise<PublishDiagnosticsParams> {
    return new Promise((resolve) => this.waiters.push({ uri, version, resolve }));
  }

  async open(uri: string, text: string, version = 1): Promise<PublishDiagnosticsParams> {
    const wait = this.diagnosticsFor(uri, version);
    await this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'mayfly-policy', version, text } });
    return wait;
  }

  async change(uri: string, text: string, version: number): Promise<PublishDiagnosticsParams> {
    const wait = this.diagnosticsFor(uri, version);
    await this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
    return wait;
  }

  request<T>(method: string, params: unknown): Promise<T> {
    return this.conn.sendRequest<T>(method, params);
  }

  async close(): Promise<void> {
    try {
      await Promise.race([this.conn.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 2000))]);
      await this.conn.sendNotification('exit');
    } catch {
      // the server may already be gone
    }
    this.conn.dispose();
    await new Promise<void>((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      const t = setTimeout(() => (this.proc.kill('SIGKILL'), resolve()), 3000);
      this.proc.once('exit', () => (clearTimeout(t), resolve()));
    });
  }
}
