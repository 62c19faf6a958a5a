/**
 * Fitting a conversation to the context: the newest turns are kept, the fewest oldest dropped, found in
 * O(log n) renders (counted as tokenizations: one per render); a fit is never given up while one
 * exists; when the last message alone is too long its attachments are cut from the end, whole lines
 * first, and the prompt and the notes say which lines were left out. One token per byte here, so sizes
 * can be reasoned about.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChatMessage } from '../../daemon/engine/chat-template.js';
import { BYTE_TO_CHAR } from '../../daemon/engine/tokenizer/byte-level.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';
import { chatMessages, fitChatPrompt, renderChatIds, type ResolvedAttachment } from '../../daemon/features/chat-prompt.js';

function byteTokenizer(): Tokenizer {
  const tokens = [...BYTE_TO_CHAR, '<|im_start|>', '<|im_end|>', '<|endoftext|>'];
  return Tokenizer.fromData({ model: 'gpt2', pre: 'qwen2', tokens, tokenTypes: tokens.map((_, i) => (i < 256 ? 1 : 3)), merges: [], addBos: false }, { warn: () => {} });
}

/** The tokenizer with its encodings counted (each render is tokenized once). */
function counting(tok: Tokenizer): { tokenizer: Tokenizer; count: () => number } {
  let n = 0;
  const tokenizer = new Proxy(tok, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if ((prop === 'encode' || prop === 'encodeSpans') && typeof v === 'function') {
        return (...args: unknown[]) => {
          n++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { tokenizer, count: () => n };
}

const tok = byteTokenizer();
const conversation = (n: number): ChatMessage[] =>
  Array.from({ length: n }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `message ${i}: ${'lorem ipsum '.repeat(3)}` }));

describe('fitChatPrompt', () => {
  test('2,001 messages: the newest turns that fit, in O(log n) renders', async () => {
    const messages = conversation(2001);
    const budget = 1000;
    const { tokenizer, count } = counting(tok);
    const fitted = await fitChatPrompt({ tokenizer, chatTemplate: undefined }, messages, [], budget);
    const renders = count();
    console.log(`2,001 messages: ${renders} renders, ${fitted.droppedTurns} dropped, ${fitted.ids.length} tokens of ${budget}`);
    assert.ok(renders <= 2 + Math.ceil(Math.log2(1001)) + 1, `${renders} renders`);
    assert.ok(fitted.ids.length <= budget);
    const kept = messages.slice(fitted.droppedTurns);
    assert.equal(kept[0]!.role, 'user', 'the kept conversation starts with a user message');
    assert.deepEqual(fitted.ids, await renderChatIds({ tokenizer: tok, chatTemplate: undefined }, chatMessages(kept, [])));
    // the most turns that fit: keeping the previous user turn as well does not fit
    const more = messages.slice(fitted.droppedTurns - 2);
    assert.ok((await renderChatIds({ tokenizer: tok, chatTemplate: undefined }, chatMessages(more, []))).length > budget);
    assert.deepEqual(fitted.notes, [`The ${fitted.droppedTurns} oldest messages were left out to fit the model's context.`]);
  });

  test('a conversation that fits renders once and says nothing', async () => {
    const { tokenizer, count } = counting(tok);
    const fitted = await fitChatPrompt({ tokenizer, chatTemplate: undefined }, conversation(5), [], 4000);
    assert.equal(count(), 1);
    assert.equal(fitted.droppedTurns, 0);
    assert.deepEqual(fitted.notes, []);
  });

  test('only the last message fits: found without giving up, however long the history', async () => {
    const messages = [...conversation(600).map((m) => ({ ...m, content: m.content.repeat(20) })), { role: 'user' as const, content: 'And now?' }];
    const fitted = await fitChatPrompt({ tokenizer: tok, chatTemplate: undefined }, messages.slice(1), [], 200);
    assert.equal(fitted.droppedTurns, messages.length - 2);
    assert.ok(fitted.ids.length <= 200);
  });

  test('an attachment too long for the context is cut at a line end, keeping its start; the prompt and the notes say what was left out', async () => {
    const text = Array.from({ length: 400 }, (_, i) => `const v${i} = ${i};`).join('\n');
    const att: ResolvedAttachment = { kind: 'selection', path: 'src/a.ts', languageId: 'typescript', lines: [11, 410], text };
    const budget = 600;
    const { tokenizer, count } = counting(tok);
    const fitted = await fitChatPrompt({ tokenizer, chatTemplate: undefined }, [{ role: 'user', content: 'Explain.' }], [att], budget);
    assert.ok(count() <= 2 + Math.ceil(Math.log2(401)) + 1, `${count()} renders`);
    assert.ok(fitted.ids.length <= budget);
    const prompt = tok.decode(fitted.ids);
    const keptLines = prompt.split('\n').filter((l) => /^const v\d+ = \d+;$/.test(l)).length;
    assert.ok(keptLines > 10 && keptLines < 400, `${keptLines} lines kept`);
    assert.ok(prompt.includes('const v0 = 0;'), 'the start is kept');
    const note = `Lines ${11 + keptLines}–410 of the selection from \`src/a.ts\` were left out to fit the model's context.`;
    assert.deepEqual(fitted.notes, [note]);
    assert.ok(prompt.includes(`(${note})`), 'the prompt says it too');
    // one more line would not fit
    const oneMore = text.split('\n').slice(0, keptLines + 1).join('\n') + '\n';
    const bigger = { ...att, text: oneMore, note: `lines ${12 + keptLines}–410 of the selection from \`src/a.ts\` were left out to fit the model's context` };
    assert.ok((await renderChatIds({ tokenizer: tok, chatTemplate: undefined }, chatMessages([{ role: 'user', content: 'Explain.' }], [bigger]))).length > budget);
  });

  test('a single line longer than the context is cut inside the line', async () => {
    const att: ResolvedAttachment = { kind: 'selection', path: 'min.js', languageId: 'javascript', lines: [1, 3], text: `${'a'.repeat(2000)}\n${'b'.repeat(50)}\n${'c'.repeat(50)}` };
    const fitted = await fitChatPrompt({ tokenizer: tok, chatTemplate: undefined }, [{ role: 'user', content: 'What is this?' }], [att], 600);
    assert.ok(fitted.ids.length <= 600);
    assert.match(fitted.notes[0]!, /^Line 1 of the selection from `min\.js` was cut after \d+ characters \(the rest of it and lines 2–3 were left out\) to fit the model's context\.$/);
  });

  test('a pasted message far longer than the context is refused without tokenizing it; a long history before a short question is dropped the same way', async () => {
    const { tokenizer, count } = counting(tok);
    const huge = 'log line 0123456789 '.repeat(500_000); // 10 MB
    await assert.rejects(
      () => fitChatPrompt({ tokenizer, chatTemplate: undefined }, [{ role: 'user', content: huge }], [], 100),
      (e: unknown) => (e as { data?: { reason?: string } }).data?.reason === 'contextOverflow' && /last message has 10000000 characters/.test((e as Error).message),
    );
    assert.equal(count(), 0, 'nothing was rendered or tokenized');
    const fitted = await fitChatPrompt({ tokenizer, chatTemplate: undefined }, [{ role: 'user', content: huge }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'And now?' }], [], 1000);
    assert.equal(fitted.droppedTurns, 2);
    assert.ok(count() <= 3, `${count()} renders`);
  });

  test('when even the question alone does not fit: contextOverflow', async () => {
    await assert.rejects(
      () => fitChatPrompt({ tokenizer: tok, chatTemplate: undefined }, [{ role: 'user', content: 'q'.repeat(500) }], [], 100),
      (e: unknown) => (e as { data?: { reason?: string } }).data?.reason === 'contextOverflow' && /needs \d+ tokens/.test((e as Error).message),
    );
  });
});

