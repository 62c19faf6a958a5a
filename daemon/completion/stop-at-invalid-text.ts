/**
 * Stop rule: a suggestion ends where the model's bytes stop being text. The streaming detokenizer
 * writes U+FFFD for bytes that can never form a UTF-8 character (and for a character left unfinished
 * at the end); a replacement character is never inserted into code, so the suggestion is cut before it.
 */
import type { StopRule } from './filter.js';

export const REPLACEMENT_CHARACTER = '\uFFFD';

export const stopAtInvalidText: StopRule = (text) => {
  const at = text.indexOf(REPLACEMENT_CHARACTER);
  return at < 0 ? undefined : at;
};
