/**
 * The proxy's view of the policy file: loads it, reloads it when it changes, and keeps
 * the last valid version of a policy while an edit has broken it, so a typo in the
 * editor never takes away a policy someone is using.
 */
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { analyzePolicies, LineIndex, type Policy } from '../../policy';
import { describePolicy, type PolicySummary } from '../../policy/summary';

export interface PolicyProblem {
  line: number;
  column: number;
  severity: string;
  message: string;
  code: string;
}

export interface PolicyListing extends PolicySummary {
  /** The file's current text for this policy is invalid; the last valid version is in force. */
  stale?: boolean;
}

export class PolicyStore extends EventEmitter {
  private policies = new Map<string, { policy: Policy; stale: boolean }>();
  private current: PolicyListing[] = [];
  problems: PolicyProblem[] = [];
  loadError?: string;
  private watching = false;

  constructor(
    readonly file: string,
    private readonly knownEntries?: readonly string[],
  ) {
    super();
  }

  load(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      this.loadError = `cannot read the policy file ${this.file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
      this.emit('change');
      return;
    }
    this.loadError = undefined;
    const analysis = analyzePolicies(text, { knownEntries: this.knownEntries });
    const lines = new LineIndex(text);
    this.problems = analysis.diagnostics.map((d) => {
      const p = lines.position(d.span.start);
      return { line: p.line + 1, column: p.character + 1, severity: d.severity, message: `${d.summary}: ${d.detail}`, code: d.code };
    });
    const next = new Map<string, { policy: Policy; stale: boolean }>();
    const listing: PolicyListing[] = [];
    for (const p of analysis.policies) {
      if (next.has(p.name)) continue; // duplicate names: the first one counts
      if (p.valid) {
        next.set(p.name, { policy: p, stale: false });
        listing.push(describePolicy(p));
      } else {
        const previous = this.policies.get(p.name);
        if (previous) {
          next.set(p.name, { policy: previous.policy, stale: true });
          listing.push({ ...describePolicy(previous.policy), stale: true, problem: p.problem });
        } else {
          // Kept (invalid) so that opening it says what is wrong, not that it does not exist.
          next.set(p.name, { policy: p, stale: false });
          listing.push(describePolicy(p));
        }
      }
    }
    this.policies = next;
    this.current = listing;
    this.emit('change');
  }

  /** Polls (rather than fs.watch) because editors save by rename, which inotify watches lose. */
  watch(intervalMs = 500): void {
    if (this.watching) return;
    this.watching = true;
    fs.watchFile(this.file, { interval: intervalMs }, (curr, prev) => {
      if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) this.load();
    });
  }

  close(): void {
    if (this.watching) fs.unwatchFile(this.file);
    this.watching = false;
  }

  get(name: string): Policy | undefined {
    return this.policies.get(name)?.policy;
  }

  list(): PolicyListing[] {
    return this.current;
  }
}
