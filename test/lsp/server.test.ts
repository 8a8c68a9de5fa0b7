import assert from 'node:assert/strict';
import type {
  CodeAction,
  CodeLens,
  CompletionItem,
  DocumentSymbol,
  FoldingRange,
  Hover,
  InlayHint,
  TextEdit,
} from 'vscode-languageserver-types';
import { LspClient } from '../support/lspClient';
import { applyEdits } from '../support/edits';
import { SEED_POLICY } from '../support/policies';

const SEED_ONE_LINE =
  'policy "pg-homolog" { engine = "postgres" plugin_config_entry = "pg-homolog-credentials" expiration = "12h" instances = ["dellstore", "dellstore.store", "testdb"] grant_privileges = ["SELECT", "UPDATE"] }\n';

const GOOD = SEED_POLICY;

let seq = 0;
const uri = (): string => `file:///work/test-${++seq}.policy.hcl`;

describe('language server over stdio', function () {
  let client: LspClient;

  beforeEach(async () => {
    client = new LspClient();
    await client.initialize({ configEntries: ['pg-homolog-credentials'] });
  });
  afterEach(async () => client.close());

  it('announces every feature it implements', async () => {
    const c2 = new LspClient();
    const { capabilities } = await c2.initialize();
    await c2.close();
    for (const cap of [
      'hoverProvider',
      'codeLensProvider',
      'inlayHintProvider',
      'completionProvider',
      'codeActionProvider',
      'documentSymbolProvider',
      'foldingRangeProvider',
      'documentFormattingProvider',
    ])
      assert.ok(capabilities[cap], `missing ${cap}`);
  });

  it('publishes no diagnostics for the seed policy written properly', async () => {
    const d = await client.open(uri(), GOOD);
    assert.deepEqual(d.diagnostics, []);
    assert.equal(d.version, 1);
  });

  it('reports a broken policy precisely and clears when it is fixed', async () => {
    const u = uri();
    const broken = GOOD.replace('"SELECT"', '"SELEC"');
    const d = await client.open(u, broken);
    assert.equal(d.diagnostics.length, 1);
    const [diag] = d.diagnostics;
    assert.equal(diag!.code, 'policy.privilege-unknown');
    assert.match(diag!.message as string, /Did you mean "SELECT"/);
    const line = broken.split('\n')[diag!.range.start.line]!;
    assert.equal(line.slice(diag!.range.start.character, diag!.range.end.character), '"SELEC"');
    const fixed = await client.change(u, GOOD, 2);
    assert.equal(fixed.version, 2);
    assert.deepEqual(fixed.diagnostics, []);
  });

  it('never lets a stale result win: the last publish matches the last version', async () => {
    const u = uri();
    await client.open(u, GOOD);
    const texts = [GOOD.replace('12h', '25h'), GOOD.replace('"testdb"', '"testdb", "testdb"'), GOOD.replace('postgres"', 'mysql"')];
    const waits = texts.map((_, i) => client.diagnosticsFor(u, i + 2));
    for (let i = 0; i < texts.length; i++)
      void client.conn.sendNotification('textDocument/didChange', { textDocument: { uri: u, version: i + 2 }, contentChanges: [{ text: texts[i] }] });
    const results = await Promise.all(waits);
    assert.deepEqual(results.map((r) => r.version), [2, 3, 4]);
    const last = client.published.filter((p) => p.uri === u).pop()!;
    assert.equal(last.version, 4);
    assert.deepEqual(last.diagnostics.map((d) => d.code), ['policy.engine']);
  });

  it("diagnoses the seed's one-line paste and its quick fix expands the block", async () => {
    const u = uri();
    const d = await client.open(u, SEED_ONE_LINE);
    const single = d.diagnostics.find((x) => x.code === 'hcl.single-line-block');
    assert.ok(single, JSON.stringify(d.diagnostics));
    assert.match(single!.message as string, /own line/);
    const actions = await client.request<CodeAction[]>('textDocument/codeAction', {
      textDocument: { uri: u },
      range: single!.range,
      context: { diagnostics: [single] },
    });
    const expand = actions.find((a) => /Expand/.test(a.title));
    assert.ok(expand, JSON.stringify(actions.map((a) => a.title)));
    const fixed = applyEdits(SEED_ONE_LINE, expand!.edit!.changes![u]!);
    assert.equal(fixed, GOOD);
    const after = await client.change(u, fixed, 2);
    assert.deepEqual(after.diagnostics, []);
  });

  it('offers quick fixes: upper-case a privilege, remove a repeat, 1d -> 24h', async () => {
    const u = uri();
    const text = GOOD.replace('"SELECT", "UPDATE"', '"select", "UPDATE", "UPDATE"').replace('"12h"', '"1d"');
    const d = await client.open(u, text);
    assert.deepEqual(d.diagnostics.map((x) => x.code).sort(), ['policy.expiration-invalid', 'policy.privilege-case', 'policy.privilege-repeated']);
    let current = text;
    for (const code of ['policy.privilege-case', 'policy.privilege-repeated', 'policy.expiration-invalid']) {
      const diag = d.diagnostics.find((x) => x.code === code)!;
      const actions = await client.request<CodeAction[]>('textDocument/codeAction', {
        textDocument: { uri: u },
        range: diag.range,
        context: { diagnostics: [diag] },
      });
      const fix = actions.find((a) => a.diagnostics?.[0]?.code === code && a.isPreferred);
      assert.ok(fix, `no fix for ${code}`);
      current = applyEdits(text, fix!.edit!.changes![u]!);
      if (code === 'policy.privilege-case') assert.match(current, /\["SELECT", "UPDATE", "UPDATE"\]/);
      if (code === 'policy.privilege-repeated') assert.match(current, /\["select", "UPDATE"\]/);
      if (code === 'policy.expiration-invalid') assert.match(current, /expiration {10}= "24h"/);
    }
  });

  it('shows the session role in a code lens and an inlay hint', async () => {
    const u = uri();
    await client.open(u, GOOD);
    const lenses = await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri: u } });
    assert.ok(lenses.some((l) => l.command?.title.includes('_hoop_session_user_bb0465c4')), JSON.stringify(lenses));
    assert.equal(lenses[0]!.range.start.line, 0);
    const hints = await client.request<InlayHint[]>('textDocument/inlayHint', {
      textDocument: { uri: u },
      range: { start: { line: 0, character: 0 }, end: { line: 10, character: 0 } },
    });
    assert.equal(hints.length, 1);
    assert.equal(hints[0]!.label, '→ _hoop_session_user_bb0465c4');
    assert.deepEqual(hints[0]!.position, { line: 0, character: 19 });
  });

  it('hovers policies, instances and privileges', async () => {
    const u = uri();
    await client.open(u, GOOD);
    const onName = await client.request<Hover>('textDocument/hover', { textDocument: { uri: u }, position: { line: 0, character: 10 } });
    const text = (onName.contents as { value: string }).value;
    assert.match(text, /_hoop_session_user_bb0465c4/);
    assert.match(text, /\| dellstore \| store \| SELECT, UPDATE \|/);
    assert.match(text, /GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA "store" TO "_hoop_session_user_bb0465c4"/);
    assert.match(text, /PASSWORD '<SCRAM-SHA-256 verifier>'/);
    const instLine = GOOD.split('\n')[4]!;
    const onInstance = await client.request<Hover>('textDocument/hover', {
      textDocument: { uri: u },
      position: { line: 4, character: instLine.indexOf('dellstore.store') + 3 },
    });
    assert.match((onInstance.contents as { value: string }).value, /database `dellstore`, schema `store`/);
    const privLine = GOOD.split('\n')[5]!;
    const onPriv = await client.request<Hover>('textDocument/hover', {
      textDocument: { uri: u },
      position: { line: 5, character: privLine.indexOf('UPDATE') + 1 },
    });
    assert.match((onPriv.contents as { value: string }).value, /\*\*UPDATE\*\*/);
  });

  it('completes argument names not yet used, values, privileges not yet used and configured entries', async () => {
    const u = uri();
    const text = 'policy "p" {\n  engine = "postgres"\n  \n}\n';
    await client.open(u, text);
    const args = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri: u }, position: { line: 2, character: 2 } });
    assert.deepEqual(args.map((i) => i.label).sort(), ['expiration', 'grant_privileges', 'instances', 'plugin_config_entry']);

    const t2 = 'policy "p" {\n  grant_privileges = ["SELECT", "\n}\n';
    await client.change(u, t2, 2);
    const privs = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri: u }, position: { line: 1, character: 33 } });
    assert.ok(!privs.some((i) => i.label === 'SELECT'));
    assert.ok(privs.some((i) => i.label === 'INSERT'));
    assert.equal(privs.find((i) => i.label === 'INSERT')!.insertText, 'INSERT');

    const t3 = 'policy "p" {\n  plugin_config_entry = \n}\n';
    await client.change(u, t3, 3);
    const entries = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri: u }, position: { line: 1, character: 24 } });
    assert.deepEqual(entries.map((i) => i.insertText), ['"pg-homolog-credentials"']);

    const t4 = 'policy "p" {\n  expiration = "\n}\n';
    await client.change(u, t4, 4);
    const durations = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri: u }, position: { line: 1, character: 16 } });
    assert.ok(durations.some((i) => i.label === '12h'));

    const t5 = 'policy "p" {\n  engine = \n}\n';
    await client.change(u, t5, 5);
    const engines = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri: u }, position: { line: 1, character: 11 } });
    assert.deepEqual(engines.map((i) => i.label), ['postgres']);

    const top = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri: u }, position: { line: 3, character: 0 } });
    assert.deepEqual(top.map((i) => i.label), ['policy']);
  });

  it('lists document symbols and folding ranges', async () => {
    const u = uri();
    const two = GOOD + '\n' + GOOD.replace('pg-homolog"', 'other"').replace('["SELECT", "UPDATE"]', '[\n    "SELECT",\n  ]');
    await client.open(u, two);
    const symbols = await client.request<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri: u } });
    assert.deepEqual(symbols.map((s) => s.name), ['policy "pg-homolog"', 'policy "other"']);
    assert.equal(symbols[0]!.detail, '_hoop_session_user_bb0465c4');
    assert.deepEqual(symbols[0]!.children!.map((c) => c.name), ['engine', 'plugin_config_entry', 'expiration', 'instances', 'grant_privileges']);
    const folds = await client.request<FoldingRange[]>('textDocument/foldingRange', { textDocument: { uri: u } });
    assert.ok(folds.some((f) => f.startLine === 0 && f.endLine === 5), JSON.stringify(folds));
    assert.ok(folds.length >= 2);
  });

  it('formats like terraform fmt, aligning =', async () => {
    const u = uri();
    const messy = 'policy "pg-homolog" {\nengine = "postgres"\n      plugin_config_entry="pg-homolog-credentials"\n  expiration   =   "12h"\n instances = ["dellstore", "dellstore.store", "testdb"]\n\tgrant_privileges = ["SELECT", "UPDATE"]   \n}\n';
    await client.open(u, messy);
    const edits = await client.request<TextEdit[]>('textDocument/formatting', {
      textDocument: { uri: u },
      options: { tabSize: 4, insertSpaces: true },
    });
    assert.equal(applyEdits(messy, edits), GOOD);
    const again = await client.change(u, GOOD, 2);
    assert.deepEqual(again.diagnostics, []);
    const none = await client.request<TextEdit[]>('textDocument/formatting', { textDocument: { uri: u }, options: { tabSize: 2, insertSpaces: true } });
    assert.deepEqual(none, []);
  });

  it('warns about unknown plugin config entries, and follows configuration changes', async () => {
    const u = uri();
    const text = GOOD.replace('"pg-homolog-credentials"', '"pg-homolog-credential"');
    const d = await client.open(u, text);
    assert.deepEqual(d.diagnostics.map((x) => [x.code, x.severity]), [['policy.unknown-entry', 2]]);
    const wait = client.diagnosticsFor(u);
    await client.conn.sendNotification('workspace/didChangeConfiguration', {
      settings: { mayfly: { configEntries: { 'pg-homolog-credential': 'env:X' } } },
    });
    assert.deepEqual((await wait).diagnostics, []);
  });

  it('answers mayfly/policies with each policy as data', async () => {
    const u = uri();
    await client.open(u, GOOD + GOOD.replace('"pg-homolog"', '"broken"').replace('"postgres"', '"mysql"'));
    const policies = await client.request<{ name: string; valid: boolean; sessionUser?: string; problem?: string }[]>('mayfly/policies', { uri: u });
    assert.equal(policies.length, 2);
    assert.equal(policies[0]!.sessionUser, '_hoop_session_user_bb0465c4');
    assert.equal(policies[0]!.valid, true);
    assert.equal(policies[1]!.valid, false);
    assert.match(policies[1]!.problem!, /Unsupported engine/);
  });

  it('shares a role between two policies with an information diagnostic', async () => {
    const u = uri();
    const d = await client.open(u, GOOD + GOOD.replace('"pg-homolog"', '"twin"').replace('"12h"', '"1h"'));
    assert.deepEqual(d.diagnostics.map((x) => [x.code, x.severity]), [['policy.shared-role', 3]]);
    assert.equal(d.diagnostics[0]!.relatedInformation![0]!.location.range.start.line, 0);
  });
});
