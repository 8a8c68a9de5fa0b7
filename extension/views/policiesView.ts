/** Policies view: each policy with its session role, grants and problems. */
import * as vscode from 'vscode';
import type { PolicySummary } from '../../policy/summary';
import type { PolicyIndex } from '../policyIndex';

type Node = { kind: 'policy'; policy: PolicySummary } | { kind: 'detail'; label: string; icon: string; tooltip?: string };

export class PoliciesView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly index: PolicyIndex) {
    this.sub = index.onDidChange(() => this.emitter.fire());
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.index.policies.map((policy) => ({ kind: 'policy', policy }));
    if (node.kind !== 'policy') return [];
    const p = node.policy;
    const out: Node[] = [];
    if (!p.valid) out.push({ kind: 'detail', label: p.problem ?? 'invalid', icon: 'error', tooltip: p.problem });
    if (p.sessionUser) out.push({ kind: 'detail', label: `role ${p.sessionUser}`, icon: 'account' });
    out.push({ kind: 'detail', label: `expires after ${p.expiration}`, icon: 'watch' });
    for (const g of p.grants) out.push({ kind: 'detail', label: `${g.database}.${g.schema}: ${g.privileges.join(', ')}`, icon: 'database' });
    return out;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'detail') {
      const item = new vscode.TreeItem(node.label);
      item.iconPath = new vscode.ThemeIcon(node.icon);
      item.tooltip = node.tooltip;
      return item;
    }
    const p = node.policy;
    const item = new vscode.TreeItem(p.name, vscode.TreeItemCollapsibleState.Collapsed);
    item.description = p.valid ? p.sessionUser : 'invalid';
    item.iconPath = new vscode.ThemeIcon(p.valid ? 'shield' : 'error');
    item.contextValue = p.valid ? 'policy-valid' : 'policy-invalid';
    item.tooltip = p.valid ? `${p.sessionUser} · ${p.expiration} · ${p.instances.join(', ')}` : p.problem;
    return item;
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}
