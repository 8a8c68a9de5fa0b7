/**
 * Literals for statements sent as one multi-statement batch (simple query protocol, which
 * takes no bind parameters): several statements in one round trip. Identifiers keep coming
 * from policy/sql.ts's quoteIdent; this only adds string literals.
 */

/**
 * A string literal. The E'' form with backslashes and quotes doubled reads the same whatever
 * standard_conforming_strings is; NUL cannot be sent at all.
 */
export function sqlLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('a SQL string cannot contain a NUL byte');
  return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A text[] literal. */
export function textArrayLiteral(values: readonly string[]): string {
  return values.length ? `ARRAY[${values.map(sqlLiteral).join(', ')}]::text[]` : `'{}'::text[]`;
}
