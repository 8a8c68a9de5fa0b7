/** `db` and `db.schema` instance strings, split as hoop does (on the LAST dot). */

export const INSTANCE_PATTERN = /^[a-zA-Z_][a-zA-Z0-9._$]*$/;

export function splitInstance(raw: string): { database: string; schema: string } {
  const dot = raw.lastIndexOf('.');
  if (dot < 0) return { database: raw, schema: 'public' };
  const schema = raw.slice(dot + 1);
  return { database: raw.slice(0, dot), schema: schema === '' ? 'public' : schema };
}
