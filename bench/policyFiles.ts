/** Deterministic policy files of any size, for the parser benchmarks. */
const PRIVS = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'];

export function policyFile(count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + (i % 4);
    const instances = Array.from({ length: n }, (_, k) => (k % 2 ? `db${i % 97}.schema_${k}` : `db${(i + k) % 89}`));
    const privs = PRIVS.slice(i % 3, (i % 3) + 1 + (i % 4));
    out.push(
      `# policy number ${i}`,
      `policy "policy-${i}" {`,
      `  engine              = "postgres"`,
      `  plugin_config_entry = "entry-${i % 5}"`,
      `  expiration          = "${1 + (i % 24)}h"`,
      `  instances           = [${instances.map((x) => `"${x}"`).join(', ')}]`,
      `  grant_privileges    = [${privs.map((x) => `"${x}"`).join(', ')}]`,
      `}`,
      '',
    );
  }
  return out.join('\n');
}
