/** The control API's routes and bodies, shared by the server and its one client. */
import type { SessionInfo } from '../sessions/types';
import type { DirectoryStatus } from '../users/directory';
import type { PolicyListing, PolicyProblem } from '../policies/policyStore';

export interface Health {
  ok: true;
  pid: number;
  version: string;
  startedAt: string;
  sessions: number;
  policyFile?: string;
  policyError?: string;
  /** The local Postgres proxy's address, when this proxy listens (`--listen`). */
  listen?: WireEndpoint;
  /** The user store behind the listener (`--users`): last refresh, staleness, per source. */
  users?: DirectoryStatus;
}

/** Where the local Postgres proxy listens, and whether it offers TLS (SSLRequest answered `S`). */
export interface WireEndpoint {
  host: string;
  port: number;
  tls: boolean;
}

export interface PoliciesResponse {
  file: string;
  policies: PolicyListing[];
  problems: PolicyProblem[];
  error?: string;
}

export interface OpenRequest {
  policy: string;
  rotate?: boolean;
}

export interface RevokeResponse {
  revoked: number;
  roleExpired: boolean;
  stillShared: number;
}

export interface SweepResponse {
  reports: unknown[];
}

export interface ErrorBody {
  error: string;
  reason?: string;
}

export type { SessionInfo };
