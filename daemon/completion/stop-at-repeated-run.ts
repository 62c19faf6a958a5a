/**
 * Stop rule: a small model stuck in a loop inside a line writes `min_: float, min_: float, min_: float, …` or
 * `\*\*\*\*…`. When a piece of at least MIN_UNIT characters with a letter or digit in it occurs three times in a
 * row, the suggestion ends after its first occurrence. Runs without a letter or digit (`0, 0, 0`, `-----`,
 * indentation) are left alone: code writes those on purpose. Whole repeated lines are dropRepetitiveLines' job.
 * The cut moves forward to the next `,` or `;` within the second copy when there is one, so `x: int, y: int,
 * y: int, y` keeps `x: int, y: int,` rather than stopping inside a parameter.
 */
import type { StopRule } from './filter.js';

const MIN_UNIT = 4;
const MAX_UNIT = 48;
const REPEATS = 3;
const WORDY = /[A-Za-z_$]/;
const SEPARATORS = ',;';

export const stopAtRepeatedRun: StopRule = (text) => {
  for (let i = 0; i + MIN_UNIT * REPEATS <= text.length; i++) {
    for (let len = MIN_UNIT; len <= MAX_UNIT && i + len * REPEATS <= text.length; len++) {
      // runs every generated token: rule most candidates out before building the piece
      if (text.charCodeAt(i) !== text.charCodeAt(i + len) || text.charCodeAt(i) !== text.charCodeAt(i + 2 * len)) continue;
      const unit = text.slice(i, i + len);
      if (!WORDY.test(unit) || unit.includes('\n')) continue;
      let k = 1;
      while (k < REPEATS && text.startsWith(unit, i + k * len)) k++;
      if (k === REPEATS) {
        for (let r = 0; r < len; r++) if (SEPARATORS.includes(text[i + len + r - 1]!)) return i + len + r;
        return i + len;
      }
    }
  }
  return undefined;
};
