/** One analysis per document version, shared by every feature so a keystroke parses once. */
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { analyzePolicies, type PolicyDocument } from '../policy';

export interface Settings {
  /** Plugin config entry names the workspace defines; undefined = unknown (no warnings). */
  knownEntries?: string[];
}

export class AnalysisCache {
  private readonly cache = new Map<string, { version: number; key: string; doc: PolicyDocument }>();
  settings: Settings = {};

  get(document: TextDocument): PolicyDocument {
    const key = JSON.stringify(this.settings.knownEntries ?? null);
    const hit = this.cache.get(document.uri);
    if (hit && hit.version === document.version && hit.key === key) return hit.doc;
    const doc = analyzePolicies(document.getText(), { knownEntries: this.settings.knownEntries });
    this.cache.set(document.uri, { version: document.version, key, doc });
    return doc;
  }

  forget(uri: string): void {
    this.cache.delete(uri);
  }
}
