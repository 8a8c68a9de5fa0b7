/**
 * The workspace's policies, analysed in the extension with the same pure core the
 * language server uses, so views and pickers work in a restricted workspace (no proxy).
 */
import * as vscode from 'vscode';
import { analyzePolicies } from '../policy';
import { describePolicy, type PolicySummary } from '../policy/summary';

export class PolicyIndex implements vscode.Disposable {
  policies: PolicySummary[] = [];
  file?: vscode.Uri;
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly knownEntries: () => string[]) {
    this.subscriptions.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.file && e.document.uri.toString() === this.file.toString()) this.analyze(e.document.getText());
      }),
      vscode.workspace.onDidSaveTextDocument((d) => {
        if (this.file && d.uri.toString() === this.file.toString()) this.analyze(d.getText());
      }),
    );
  }

  async load(file: vscode.Uri | undefined): Promise<void> {
    this.file = file;
    if (!file) {
      this.policies = [];
      this.emitter.fire();
      return;
    }
    try {
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === file.toString());
      const text = open ? open.getText() : Buffer.from(await vscode.workspace.fs.readFile(file)).toString('utf8');
      this.analyze(text);
    } catch {
      this.policies = [];
      this.emitter.fire();
    }
  }

  private analyze(text: string): void {
    this.policies = analyzePolicies(text, { knownEntries: this.knownEntries() }).policies.map(describePolicy);
    this.emitter.fire();
  }

  dispose(): void {
    this.emitter.dispose();
    this.subscriptions.forEach((s) => s.dispose());
  }
}
