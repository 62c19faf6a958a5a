/** Post filter: no trailing spaces or blank lines at the end of a suggestion. */
import type { PostFilter } from './filter.js';

export const trimTrailingWhitespace: PostFilter = (text) => text.replace(/\s+$/, '');
