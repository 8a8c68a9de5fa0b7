/**
 * Pointing session credentials at the local Mayfly proxy instead of the server: the proxy
 * lets the session roles it issued log in with their issued password (proxy/wire/identity.ts),
 * so only the address changes. Shared by `mayfly session open --via-proxy` and the extension.
 */
import type { Health, WireEndpoint } from './protocol';

/**
 * Where a client on this machine reaches the proxy that `health` describes, or undefined
 * when it does not listen. A wildcard bind (`--allow-remote` on 0.0.0.0 or ::) is reached
 * on loopback, where the proxy does not insist on TLS.
 */
export function proxyEndpoint(health: Health): WireEndpoint | undefined {
  const listen = health.listen;
  if (!listen) return undefined;
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return { host, port: listen.port, tls: listen.tls };
}

/** `host:port`, with IPv6 hosts in brackets. */
export function formatEndpoint(e: { host: string; port: number }): string {
  return `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}
