/** Hover: what a policy, an instance or a privilege will do on the server. */
import type { Connection, Hover, TextDocuments } from 'vscode-languageserver/node';
import { MarkupKind } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { planPolicy, type Policy } from '../../policy';
import { previewSql } from '../../policy/sql';
import { sessionUserSeed } from '../../policy/naming';
import type { AnalysisCache } from '../documents';
import { contains, toRange } from '../convert';

const PRIVILEGE_DOCS: Record<string, string> = {
  SELECT: 'Read rows of every table in the schema (and `SELECT` on its sequences).',
  INSERT: 'Add rows to every table in the schema (and `USAGE` on its sequences, so serial columns work).',
  UPDATE: 'Change rows of every table in the schema (and `USAGE, UPDATE` on its sequences).',
  DELETE: 'Delete rows from every table in the schema.',
  TRUNCATE: 'Empty every table in the schema with `TRUNCATE`.',
  REFERENCES: 'Create foreign keys that reference the schema\'s tables.',
  TRIGGER: 'Create triggers on the schema\'s tables.',
  CREATE: 'Granted on the schema (not on tables): create new tables and other objects in it.',
  TEMPORARY: 'Granted on the database: create temporary tables.',
};

export const ARGUMENT_DOCS: Record<string, string> = {
  engine: '**engine** (required): the database engine. Only `"postgres"`.',
  plugin_config_entry:
    '**plugin_config_entry** (required): the config entry (`--config NAME=...` or the `mayfly.configEntries` setting) holding the granter DSN.',
  expiration:
    '**expiration** (optional, default `"12h"`): how long a session lasts, as a Go duration (`"90m"`, `"1h30m"`); more than 0 and at most `"24h"`.',
  instances:
    '**instances** (required): 1 to 9 `"database"` or `"database.schema"` entries; without a schema, `public`. The split is on the last dot.',
  grant_privileges: `**grant_privileges** (required): case-sensitive; any of ${Object.keys(PRIVILEGE_DOCS).join(', ')}.`,
};

export function policyMarkdown(policy: Policy, now = new Date()): string {
  const lines = [`**policy "${policy.name}"**`, ''];
  if (!policy.valid) {
    lines.push(`$(error) Not usable yet: ${policy.problem ?? 'see problems'}`);
    if (!policy.sessionUser) return lines.join('\n');
    lines.push('');
  }
  if (policy.sessionUser) {
    lines.push(`Session role: \`${policy.sessionUser}\``);
    lines.push(
      `(crc32 of \`${sessionUserSeed(
        policy.instances.map((i) => i.raw),
        policy.privileges.map((p) => p.name),
      )}\`)`,
    );
  }
  lines.push('', `Expires ${policy.expiration.text} after it is opened${policy.expiration.span ? '' : ' (default)'}.`);
  if (policy.pluginConfigEntry) lines.push(`Granter DSN from config entry \`${policy.pluginConfigEntry}\`.`);
  if (policy.valid) {
    const plan = planPolicy(policy);
    lines.push('', '| database | schema | privileges |', '|---|---|---|');
    for (const db of plan.databases)
      for (const s of db.schemas)
        lines.push(
          `| ${db.database} | ${s.schema} | ${[...s.tablePrivileges, ...s.schemaPrivileges.filter((p) => p !== 'USAGE').map((p) => `${p} (schema)`), ...db.databasePrivileges.filter((p) => p !== 'CONNECT').map((p) => `${p} (database)`)].join(', ')} |`,
        );
    lines.push('', '```sql');
    for (const group of previewSql(plan, now)) {
      lines.push(`-- on ${group.database}`);
      for (const st of group.statements) lines.push(`${st};`);
    }
    lines.push('```');
  }
  return lines.join('\n');
}

export function registerHover(connection: Connection, documents: TextDocuments<TextDocument>, cache: AnalysisCache): void {
  connection.onHover(({ textDocument, position }): Hover | null => {
    const doc = documents.get(textDocument.uri);
    if (!doc) return null;
    const offset = doc.offsetAt(position);
    const analysis = cache.get(doc);
    const policy = analysis.policies.find((p) => contains(p.span, offset));
    if (!policy) return null;
    const instance = policy.instances.find((i) => contains(i.span, offset));
    if (instance) {
      const privs = policy.privileges.map((p) => p.name).join(', ') || '(none)';
      return {
        range: toRange(doc, instance.span),
        contents: {
          kind: MarkupKind.Markdown,
          value: [
            `**${instance.raw}** → database \`${instance.database}\`, schema \`${instance.schema}\``,
            '',
            `Grants ${privs} to ${policy.sessionUser ? `\`${policy.sessionUser}\`` : 'the session role'} there.`,
          ].join('\n'),
        },
      };
    }
    const privilege = policy.privileges.find((p) => contains(p.span, offset));
    if (privilege) {
      return {
        range: toRange(doc, privilege.span),
        contents: { kind: MarkupKind.Markdown, value: `**${privilege.name}**: ${PRIVILEGE_DOCS[privilege.name] ?? ''}` },
      };
    }
    if (offset <= policy.nameSpan.end)
      return { range: toRange(doc, policy.nameSpan), contents: { kind: MarkupKind.Markdown, value: policyMarkdown(policy) } };
    const block = analysis.parse.body.items.find((b) => b.kind === 'block' && b.span.start === policy.span.start);
    const attr = block?.kind === 'block' ? block.body.items.find((a) => a.kind === 'attribute' && contains(a.nameSpan, offset)) : undefined;
    if (attr?.kind === 'attribute' && ARGUMENT_DOCS[attr.name])
      return { range: toRange(doc, attr.nameSpan), contents: { kind: MarkupKind.Markdown, value: ARGUMENT_DOCS[attr.name]! } };
    return null;
  });
}
