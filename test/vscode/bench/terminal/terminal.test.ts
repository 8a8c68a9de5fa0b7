/**
 * Benchmark (not a test tier): activation time and the time from choosing a policy to a
 * usable terminal (psql answered in it), for roles that do not exist yet and for existing
 * (expired) roles. Writes JSON to $MAYFLY_BENCH_OUT.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as vscode from 'vscode';
import { activateMayfly, waitFor, workspacePath } from '../../suite/helpers';

let n = 0;
async function psqlWorks(terminal: vscode.Terminal): Promise<void> {
  const out = workspacePath(`.bench-${++n}.txt`);
  terminal.sendText(`psql -XAtc 'select 1' > '${out}.tmp' 2>&1; mv '${out}.tmp' '${out}'`);
  // Poll often: the poll interval is part of what we measure.
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(out)) {
    if (Date.now() > deadline) throw new Error('psql did not answer in the terminal');
    await new Promise((r) => setTimeout(r, 10));
  }
  const text = fs.readFileSync(out, 'utf8');
  assert.equal(text.trim(), '1');
}

describe('benchmark: policy to usable terminal', function () {
  it('measures', async () => {
    const api = await activateMayfly();
    await waitFor('proxy', () => api.services.proxy.state.kind === 'running' || undefined, 30_000);
    const results: Record<string, unknown> = { activationMs: api.activationMs };
    for (const kind of ['new role', 'existing role']) {
      const command: number[] = [];
      const usable: number[] = [];
      for (let i = 0; i < 8; i++) {
        const t0 = Date.now();
        const r = await vscode.commands.executeCommand<{ session: { id: string }; terminalName: string }>('mayfly.openSessionTerminal', `p${i}`);
        const t1 = Date.now();
        const terminal = vscode.window.terminals.find((t) => t.name === r.terminalName)!;
        await psqlWorks(terminal);
        const t2 = Date.now();
        command.push(t1 - t0);
        usable.push(t2 - t0);
        // Expire the role (it stays on the server): the next round measures "existing role".
        await api.services.proxy.client.revoke(r.session.id);
        terminal.dispose();
      }
      results[kind] = { commandMs: command, usableMs: usable };
    }
    fs.writeFileSync(process.env.MAYFLY_BENCH_OUT!, JSON.stringify(results));
  });
});
