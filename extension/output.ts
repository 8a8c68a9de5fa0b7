/** The "Mayfly" output channel; every line passes through the redactor first. */
import * as vscode from 'vscode';
import { Redactor } from '../proxy/log/logger';

export class MayflyOutput implements vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('Mayfly');
  readonly redactor = new Redactor();
  /** Everything written, redacted: tests scan it for secrets. */
  readonly lines: string[] = [];

  append(text: string): void {
    for (const line of text.split(/\r?\n/)) {
      if (!line) continue;
      const safe = this.redactor.redact(line);
      this.lines.push(safe);
      if (this.lines.length > 5000) this.lines.shift();
      this.channel.appendLine(safe);
    }
  }

  info(message: string): void {
    this.append(`${new Date().toISOString()} [extension] ${message}`);
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
