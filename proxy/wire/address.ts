/** Loopback checks for listen addresses and client source addresses. */

export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(?:::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
