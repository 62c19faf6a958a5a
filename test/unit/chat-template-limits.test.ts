/**
 * Hostile chat templates (a GGUF's tokenizer.chat_template is a program from a file): a render that
 * runs too long, exhausts memory or writes too much fails with a ChatTemplateError naming the template
 * and the limit, while this process keeps running and stays responsive (its event loop keeps ticking
 * during the render); the next render works. Each test uses its own sandbox.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { TemplateSandbox } from '../../daemon/template/template-sandbox.js';
import { ChatTemplateError, renderChat, type ChatMessage, type RenderChatOptions } from '../../daemon/engine/chat-template.js';

const convo: ChatMessage[] = [{ role: 'user', content: 'hi' }];
const sandbox = new TemplateSandbox();
after(() => sandbox.dispose());
const opts: RenderChatOptions = { bosToken: '', eosToken: '', addGenerationPrompt: true, origin: 'tokenizer.chat_template of hostile.gguf', maxHeapMb: 96, sandbox };

/** Runs `fn` while measuring the longest gap between 10 ms ticks of this process's event loop. */
async function withLoopWatch<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; maxGapMs: number; ms: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 10);
  const t0 = performance.now();
  try {
    return { value: await fn(), maxGapMs, ms: performance.now() - t0 };
  } catch (error) {
    return { error, maxGapMs, ms: performance.now() - t0 };
  } finally {
    clearInterval(tick);
  }
}

const isTemplateError = (failure: string[]) => (e: unknown) => e instanceof ChatTemplateError && failure.includes(e.failure);

describe('chat template limits', () => {
  test('renders reuse the one renderer process once it runs', async () => {
    await renderChat(undefined, convo, opts); // starts the renderer
    const starts = sandbox.starts;
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      assert.equal(await renderChat(undefined, convo, opts), '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const median = times[10]!;
    console.log(`warm render: median ${median.toFixed(2)} ms, max ${times[19]!.toFixed(2)} ms`);
    assert.equal(sandbox.starts, starts, 'no render started a new process');
  });

  test('an endless loop fails after the time limit, naming the template, and the process stays responsive', async () => {
    const loop = '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}';
    const starts = sandbox.starts;
    const r = await withLoopWatch(() => renderChat(loop, convo, { ...opts, timeoutMs: 1000 }));
    assert.ok(isTemplateError(['time'])(r.error), String(r.error));
    assert.equal((r.error as Error).message, "the model's chat template (tokenizer.chat_template of hostile.gguf) did not finish in 1 s");
    assert.ok(r.ms < 10_000, `failed after ${r.ms} ms`);
    assert.ok(r.maxGapMs < 500, `the event loop stalled for ${r.maxGapMs} ms`);
    // the killed renderer is replaced on the next render
    assert.equal(await renderChat(undefined, convo, opts), '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    assert.equal(sandbox.starts, starts + 1);
  });

  test('the default time limit is 2 s', async () => {
    const r = await withLoopWatch(() => renderChat('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}', convo, opts));
    assert.match(String((r.error as Error)?.message), /did not finish in 2 s$/);
  });

  test('range() past 100,000 items is refused before the list is built, as in prompt files', async () => {
    const r = await withLoopWatch(() => renderChat('{% for i in range(1000000000) %}{% endfor %}', convo, opts));
    assert.ok(isTemplateError(['memory'])(r.error), String(r.error));
    assert.match((r.error as Error).message, /^the model's chat template \(tokenizer\.chat_template of hostile\.gguf\) ran out of memory: range\(\) of 1,000,000,000 items/);
  });

  test('a huge range() or list exhausts only the renderer: a clear error, then renders go on', async () => {
    for (const tpl of [
      '{% for i in range(1000000000) %}{% endfor %}',
      '{% set ns = namespace(l=[1, 2, 3, 4]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}',
    ]) {
      const r = await withLoopWatch(() => renderChat(tpl, convo, { ...opts, timeoutMs: 20_000 }));
      assert.ok(isTemplateError(['memory', 'render'])(r.error), `${tpl}: ${String(r.error)}`);
      assert.match((r.error as Error).message, /^the model's chat template \(tokenizer\.chat_template of hostile\.gguf\) /);
      assert.ok(r.maxGapMs < 500, `the event loop stalled for ${r.maxGapMs} ms`);
      assert.equal(await renderChat(undefined, convo, opts), '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    }
  });

  test('too much output fails (written by the template, or by repeating a message)', async () => {
    await assert.rejects(
      () => renderChat('{% for i in range(100000) %}0123456789012345678901234567890123456789{% endfor %}', convo, opts),
      (e: unknown) => isTemplateError(['output'])(e) && /characters/.test((e as Error).message),
    );
    const big: ChatMessage[] = [{ role: 'user', content: 'x'.repeat(10_000) }];
    await assert.rejects(
      () => renderChat('{% for i in range(2000) %}{{ messages[0].content }}{% endfor %}', big, opts),
      (e: unknown) => isTemplateError(['output'])(e) && /wrote more than/.test((e as Error).message),
    );
  });

  test('renders queue: many at once all answer, in order', async () => {
    const outs = await Promise.all(Array.from({ length: 10 }, (_, i) => renderChat(undefined, [{ role: 'user', content: `m${i}` }], opts)));
    outs.forEach((o, i) => assert.ok(o.includes(`m${i}<|im_end|>`), o));
  });
});
