/**
 * The shipped model (models/moecode-coder.gguf, trained by tools/train) in our engine vs llama.cpp on real
 * code prompts, an SPM fill-in-the-middle prompt and a ChatML explain prompt: the same greedy continuation (32 tokens; a divergence is only accepted at a near tie, see
 * greedy-check.ts) and close next-token distributions. Its weights are Q8_0 (experts) and F16, so the
 * quantised-type targets apply: mean KL ≤ 1e-2 and top-1 agreement ≥ 95%.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { defaultModelPath } from '../../daemon/cli/default-model.js';
import { evalModel } from '../../daemon/cli/eval.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { judgeGreedy } from '../helpers/greedy-check.js';
import { disposeOracle, oracleRun } from '../helpers/llama-oracle.js';
import { compareRuns, fmtE } from '../helpers/logprob-compare.js';

const PROMPTS = [
  'import os\nimport sys\n\n\ndef main(argv):\n    """Print the arguments."""\n    for arg in argv[1:]:\n',
  "export function debounce(fn, ms) {\n  let timer;\n  return (...args) => {\n",
  'class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n',
];
/** Prompts with control tokens, as the daemon writes them: an SPM fill-in-the-middle prompt and a ChatML explain. */
const SPECIAL_PROMPTS = [
  '<|fim_suffix|>\n    return total\n<|fim_prefix|>def total(xs):\n    total = 0\n    for x in xs:\n        total<|fim_middle|>',
  "<|im_start|>system\nYou are MoeCode, a coding assistant running locally in the user's editor.<|im_end|>\n<|im_start|>user\n" +
    'Explain what this code does.\n\n```python\ndef add(a, b):\n    return a + b\n```<|im_end|>\n<|im_start|>assistant\n',
];
const N_GREEDY = 32;

test('the shipped model agrees with llama.cpp', async (t) => {
  const path = defaultModelPath();
  if (!path || !existsSync(path)) return t.skip('models/moecode-coder.gguf is not in this checkout');
  const file = await openGguf(path);
  const tokenizer = Tokenizer.fromData(tokenizerDataFromGguf(file.metadata), { warn: () => {} });
  await file.close();
  // the daemon builds SPM prompts for it (tools/train trains FIM in SPM order and writes moecode.fim_order)
  assert.equal(tokenizer.fimOrder, 'spm');
  const cases = [...PROMPTS.map((text) => ({ text, special: false })), ...SPECIAL_PROMPTS.map((text) => ({ text, special: true }))];
  try {
    for (const { text, special } of cases) {
      const prompt = tokenizer.encode(text, { parseSpecial: special });
      let ours;
      try {
        ours = await evalModel(path, prompt, N_GREEDY);
      } catch (e) {
        if ((e as Error).name === 'GpuUnavailableError') return t.skip(`no WebGPU adapter: ${(e as Error).message}`);
        throw e;
      }
      const theirs = await oracleRun(path, prompt, N_GREEDY);
      const stats = compareRuns(theirs.logprobs, ours.logprobs);
      t.diagnostic(`${JSON.stringify(text.slice(0, 24))}: mean KL ${fmtE(stats.meanKl)}, top-1 ${(stats.top1Agreement * 100).toFixed(1)}%`);
      assert.ok(stats.meanKl <= 1e-2, `mean KL ${stats.meanKl}`);
      assert.ok(stats.top1Agreement >= 0.95, `top-1 agreement ${stats.top1Agreement}`);
      const verdict = await judgeGreedy(path, prompt, theirs.greedy, ours.greedy, async (tokens) => (await evalModel(path, tokens, 0)).logprobs);
      assert.ok(verdict.index < 0 || verdict.tie, `greedy continuations part at ${verdict.index} (gap ${verdict.gap}, |Δ| ${verdict.delta}): ours ${ours.greedy} llama.cpp ${theirs.greedy}`);
    }
  } finally {
    await disposeOracle();
  }
});
