/**
 * What every benchmark's parent process does the same way: integer options, the prompt (the code
 * corpus in the model's own tokens), and a child process that reports one `PREFIX {json}` line on stdout
 * (its progress on stderr passes through).
 */
import { spawn } from 'node:child_process';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { CODE_CORPUS } from '../modelgen/code-corpus.js';

/** `--name`'s integer value (`fallback` when absent); throws a message naming the option below `min`. */
export function intOption(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${value}`);
  return n;
}

/** `n` prompt token ids: the code corpus, tokenized by the model's own tokenizer, repeated. */
export async function benchPromptTokens(modelPath: string, n: number): Promise<number[]> {
  const file = await openGguf(modelPath);
  try {
    const tok = Tokenizer.fromData(tokenizerDataFromGguf(file.metadata), { warn: () => undefined });
    const ids = tok.encode(CODE_CORPUS, { addBos: false });
    const out: number[] = [];
    while (out.length < n) out.push(...ids.slice(0, n - out.length));
    return out;
  } finally {
    await file.close();
  }
}

/** Runs `node --import tsx <args>` and resolves with the JSON after `prefix` on its stdout; `label` names it in errors. */
export function runBenchChild<T>(args: string[], prefix: string, label: string): Promise<T> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('error', fail);
    child.on('close', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith(prefix));
      if (code === 0 && line) done(JSON.parse(line.slice(prefix.length)) as T);
      else fail(new Error(`${label} exited with ${signal ?? code}${out.trim() ? `: ${out.trim().slice(-500)}` : ''}`));
    });
  });
}
