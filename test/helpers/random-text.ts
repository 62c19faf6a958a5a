/**
 * Seeded random strings for tokenizer fuzzing (deterministic for a seed): each string is 1..maxPieces runs of
 * 1..maxRun consecutive code points taken from a random place in a random pool.
 */
export function randomTexts(pools: readonly string[], count: number, seed: number, maxPieces: number, maxRun: number): string[] {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x80000000;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let t = '';
    const len = 1 + Math.floor(rnd() * maxPieces);
    for (let j = 0; j < len; j++) {
      const pool = [...pools[Math.floor(rnd() * pools.length)]!];
      const k = Math.floor(rnd() * pool.length);
      t += pool.slice(k, k + 1 + Math.floor(rnd() * maxRun)).join('');
    }
    out.push(t);
  }
  return out;
}
