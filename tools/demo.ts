/**
 * The main job on the default model: streams a code continuation with `moecode run`. Uses the shipped
 * model (models/moecode-coder.gguf) when present, else generates a small random qwen3moe model (its
 * output is random tokens: it shows the engine working end to end, not a trained model).
 */
import { defaultModelPath } from '../daemon/cli/default-model.js';
import { main } from '../daemon/cli/main.js';
import { ensureModel } from './modelgen/model-cache.js';

async function demo(): Promise<number> {
  let model = process.env.MOECODE_MODEL ?? defaultModelPath();
  if (!model) {
    console.error('No shipped model found: generating a small random qwen3moe model (random output).');
    model = await ensureModel({ arch: 'qwen3moe', preset: 'tiny', weightType: 'Q8_0' });
  }
  const prompt = process.argv[2] ?? 'function fibonacci(n) {\n';
  return main(['run', model, '--prompt', prompt, '--max-tokens', '64']);
}

demo().then((code) => process.exit(code));
