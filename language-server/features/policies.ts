/** `mayfly/policies`: the validated policies of a document, for the extension's pickers and views. */
import type { Connection, TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { AnalysisCache } from '../documents';
import { describePolicy, type PolicySummary } from '../../policy/summary';

export const POLICIES_REQUEST = 'mayfly/policies';

export function registerPolicyRequests(connection: Connection, documents: TextDocuments<TextDocument>, cache: AnalysisCache): void {
  connection.onRequest(POLICIES_REQUEST, (params: { uri: string }): PolicySummary[] => {
    const doc = documents.get(params.uri);
    if (!doc) return [];
    return cache.get(doc).policies.map(describePolicy);
  });
}
