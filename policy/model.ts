/** The validated shape of a policy: what the rest of Mayfly consumes. */
import type { Diagnostic, ParseResult, Span } from './hcl/ast';

export const ENGINES = ['postgres'] as const;

/** hoop's allowed set, case-sensitive. */
export const PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'TRUNCATE',
  'REFERENCES',
  'TRIGGER',
  'CREATE',
  'TEMPORARY',
] as const;
export type Privilege = (typeof PRIVILEGES)[number];

export const DEFAULT_EXPIRATION = '12h';
export const MAX_INSTANCES = 9;

export interface Instance {
  /** As written, e.g. `dellstore.store`. */
  raw: string;
  database: string;
  schema: string;
  span: Span;
}

export interface Expiration {
  ns: number;
  /** Normalised, e.g. `1h30m` for `90m`. */
  text: string;
  /** Absent when the default applies. */
  span?: Span;
}

export interface Policy {
  name: string;
  nameSpan: Span;
  /** The whole `policy "..." { ... }` block. */
  span: Span;
  engine?: string;
  pluginConfigEntry?: string;
  pluginConfigEntrySpan?: Span;
  expiration: Expiration;
  instances: Instance[];
  privileges: { name: Privilege; span: Span }[];
  /** Derived when instances and privileges are usable. */
  sessionUser?: string;
  /** No error-severity diagnostic falls inside this policy. */
  valid: boolean;
  /** The first error inside this policy, for pickers that list why a policy cannot be used. */
  problem?: string;
}

export interface PolicyDocument {
  parse: ParseResult;
  policies: Policy[];
  diagnostics: Diagnostic[];
}

export interface AnalyzeOptions {
  /** Plugin config entry names the workspace defines; unknown names warn when this is given. */
  knownEntries?: readonly string[];
}
