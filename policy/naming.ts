/**
 * Session role names, exactly as hoop derives them:
 * `_hoop_session_user_` + crc32(sorted(instances).join(",") + ":" + sorted(privileges).join(",")).
 */

export const SESSION_USER_PREFIX = '_hoop_session_user_';

// Node 20 has no zlib.crc32 (added in 22.2), so the IEEE table lives here.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib and Go's hash/crc32.ChecksumIEEE) of the UTF-8 bytes. */
export function crc32(input: string | Uint8Array): number {
  // ASCII strings (every valid instance and privilege) hash without allocating a Buffer.
  if (typeof input === 'string' && /^[\x00-\x7f]*$/.test(input)) {
    let crc = 0xffffffff;
    for (let i = 0; i < input.length; i++) crc = CRC_TABLE[(crc ^ input.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
    return (crc ^ 0xffffffff) >>> 0;
  }
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const SURROGATE = /[\ud800-\udfff]/;

/**
 * Go's sort.Strings compares bytes; for UTF-8 that is code point order. JavaScript's
 * default order (UTF-16 units) agrees except around surrogate pairs, so only those pay
 * for an explicit byte comparison.
 */
function compareBytes(a: string, b: string): number {
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The string hoop hashes; exported so previews can show how a name was derived. */
export function sessionUserSeed(instances: readonly string[], privileges: readonly string[]): string {
  const i = [...instances].sort(compareBytes).join(',');
  const p = [...privileges].sort(compareBytes).join(',');
  return `${i}:${p}`;
}

export function sessionUserName(instances: readonly string[], privileges: readonly string[]): string {
  return SESSION_USER_PREFIX + crc32(sessionUserSeed(instances, privileges)).toString(16).padStart(8, '0');
}
