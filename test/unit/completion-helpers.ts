/** Builds a CompletionContext from a document with a `|` marking the cursor. */
import { completionContext, type CompletionContext } from '../../daemon/completion/completion-context.js';

export function at(docWithCursor: string, languageId = 'typescript', maxLines?: number): CompletionContext {
  const i = docWithCursor.indexOf('|');
  if (i < 0) throw new Error('no | cursor in the document');
  return completionContext(docWithCursor.slice(0, i), docWithCursor.slice(i + 1), { languageId, maxLines });
}
