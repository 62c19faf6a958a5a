/**
 * tools/train end to end on a tiny random model: train a BPE on a few repository files, write a checkpoint
 * in the training format, dump it with export-weights.py, write a GGUF with export-gguf.ts, and compare
 * llama.cpp's tokenization, next-token log-probs and greedy tokens with the PyTorch training model
 * (an independent implementation of the same qwen3moe graph).
 *
 * Needs Debian's /usr/bin/python3 with python3-torch; skips with a reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { exportGguf } from '../../tools/train/export-gguf.js';
import { checkAgainstReference } from '../../tools/train/check-llama.js';
import type { ReferenceCase } from '../../tools/train/check-llama.js';

const PY = '/usr/bin/python3';
const TRAIN = join(__dirname, '..', '..', 'tools', 'train');

function torchMissing(): string | undefined {
  try {
    execFileSync(PY, ['-c', 'import torch, numpy'], { stdio: 'pipe' });
    return undefined;
  } catch {
    return `${PY} with torch and numpy is not available (apt-get install python3-torch)`;
  }
}

function py(script: string, args: string[]): void {
  execFileSync(PY, [join(TRAIN, script), ...args], {
    cwd: TRAIN, stdio: 'pipe', env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONPATH: TRAIN },
  });
}

test('tiny qwen3moe from tools/train loads in llama.cpp and matches PyTorch', { timeout: 600_000 }, async (t) => {
  const why = torchMissing();
  if (why) {
    t.skip(why);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'train-export-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  // corpus: a few source files of this repository
  const files = ['bpe.py', 'model.py', 'train.py', 'eval.py', 'export-gguf.ts', 'check-llama.ts'];
  const lines: string[] = [];
  for (const f of files) {
    const text = await readFile(join(TRAIN, f), 'utf8');
    lines.push(JSON.stringify({ lang: f.endsWith('.py') ? 'python' : 'typescript', text }));
  }
  await writeFile(join(dir, 'corpus.jsonl'), lines.join('\n') + '\n');
  py('bpe.py', ['train', '--corpus', join(dir, 'corpus.jsonl'), '--out', join(dir, 'tok.json'), '--vocab', '600']);
  py('make-tiny.py', ['--tok', join(dir, 'tok.json'), '--out', join(dir, 'ckpt.pt')]);
  py('export-weights.py', ['--ckpt', join(dir, 'ckpt.pt'), '--tok', join(dir, 'tok.json'), '--out', join(dir, 'w')]);
  py('reference.py', ['--ckpt', join(dir, 'ckpt.pt'), '--tok', join(dir, 'tok.json'), '--out', join(dir, 'ref.json'),
    'def main():\n    return value', "export const x = require('fs');\n", 'naïve café — “quotes” 12345 _under_score']);
  const ref = JSON.parse(await readFile(join(dir, 'ref.json'), 'utf8')) as { cases: ReferenceCase[] };

  // F32: must match the float32 PyTorch model to rounding
  await exportGguf(join(dir, 'w.json'), join(dir, 'm32.gguf'), true);
  const r32 = await checkAgainstReference(join(dir, 'm32.gguf'), ref.cases);
  t.diagnostic(`F32 max |Δ log p|: ${r32.map((r) => r.maxLogprobDiff.toExponential(2)).join(', ')}`);
  for (const r of r32) {
    assert.ok(r.tokensMatch, `llama.cpp tokenizes ${JSON.stringify(r.text)} differently`);
    assert.ok(r.maxLogprobDiff < 2e-3, `F32 log-prob difference ${r.maxLogprobDiff} for ${JSON.stringify(r.text)}`);
    assert.equal(r.top1Agree, 1);
    assert.equal(r.greedyMatchPrefix, r.llamaGreedy.length, `greedy differs: ${JSON.stringify(r)}`);
  }

  // shipped types: experts Q8_0, other matrices F16, norms and router F32
  await exportGguf(join(dir, 'w.json'), join(dir, 'mq.gguf'));
  const g = await openGguf(join(dir, 'mq.gguf'));
  try {
    const type = (name: string) => g.tensors.find((x) => x.name === name)?.type;
    assert.equal(type('blk.0.ffn_up_exps.weight'), GgmlType.Q8_0);
    assert.equal(type('blk.0.attn_q.weight'), GgmlType.F16);
    assert.equal(type('blk.0.ffn_gate_inp.weight'), GgmlType.F32);
    assert.equal(g.metadata.get('tokenizer.ggml.pre'), 'gpt-2');
    assert.equal(g.metadata.get('qwen3moe.expert_used_count'), 2);
  } finally {
    await g.close();
  }
  const rq = await checkAgainstReference(join(dir, 'mq.gguf'), ref.cases.slice(0, 1));
  t.diagnostic(`Q8_0/F16 max |Δ log p|: ${rq.map((r) => r.maxLogprobDiff.toExponential(2)).join(', ')}`);
  for (const r of rq) {
    assert.ok(r.maxLogprobDiff < 0.5, `quantized log-prob difference ${r.maxLogprobDiff}`);
    assert.ok(r.top1Agree >= 0.8, `quantized top-1 agreement ${r.top1Agree}`);
  }
});
