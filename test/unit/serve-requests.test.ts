/**
 * The pure parts of `moecode serve`: request field checks (400 naming the field), the API key check,
 * Host names, text bounds, chat messages and the error mapping. The server itself runs in
 * test/lsp/serve-*.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseError } from 'vscode-languageserver/node';
import { ChatTemplateError } from '../../daemon/engine/chat-template.js';
import { ContextOverflowError } from '../../daemon/engine/model.js';
import { requestFailed } from '../../daemon/features/errors.js';
import { EngineGoneError, QueueFullError } from '../../daemon/scheduler/scheduler.js';
import { apiKeyCheck, bearerToken } from '../../daemon/serve/auth.js';
import { dropTurnsOverChars, MAX_MESSAGES, parseChatMessages } from '../../daemon/serve/chat-messages.js';
import { parseChatCompletionRequest } from '../../daemon/serve/chat-completions.js';
import { parseCompletionRequest } from '../../daemon/serve/completions.js';
import { HttpError, toHttpError } from '../../daemon/serve/errors.js';
import { finishReason } from '../../daemon/serve/generation.js';
import { parseInfillRequest } from '../../daemon/serve/infill.js';
import { hostnameOf, isLoopbackHostname } from '../../daemon/serve/router.js';
import { headAtLine, tailAtLine } from '../../daemon/serve/text-bounds.js';
import { optionalSeed, stopStrings } from '../../daemon/serve/validate.js';

function badField(fn: () => unknown, param: string | null): void {
  assert.throws(fn, (e: unknown) => e instanceof HttpError && e.status === 400 && e.param === param && e.type === 'invalid_request_error');
}

const user = [{ role: 'user', content: 'hi' }];

test('chat requests: defaults, max_tokens -1 (llama-server: until the context is full), bad fields named', () => {
  const p = parseChatCompletionRequest({ messages: user });
  assert.deepEqual([p.maxTokens, p.temperature, p.topP, p.seed, p.stop, p.stream, p.includeUsage], [undefined, undefined, undefined, undefined, [], false, false]);
  assert.equal(parseChatCompletionRequest({ messages: user, max_tokens: -1 }).maxTokens, Number.MAX_SAFE_INTEGER);
  assert.equal(parseChatCompletionRequest({ messages: user, max_completion_tokens: 7, max_tokens: 3 }).maxTokens, 7);
  assert.equal(parseChatCompletionRequest({ messages: user, max_tokens: null, temperature: null }).maxTokens, undefined);
  assert.equal(parseChatCompletionRequest({ messages: user, stream: true, stream_options: { include_usage: true } }).includeUsage, true);
  badField(() => parseChatCompletionRequest({ messages: user, max_tokens: 0 }), 'max_tokens');
  badField(() => parseChatCompletionRequest({ messages: user, max_completion_tokens: -2 }), 'max_completion_tokens');
  badField(() => parseChatCompletionRequest({ messages: user, temperature: 2.5 }), 'temperature');
  badField(() => parseChatCompletionRequest({ messages: user, top_p: 1.5 }), 'top_p');
  badField(() => parseChatCompletionRequest({ messages: user, n: 3 }), 'n');
  badField(() => parseChatCompletionRequest({ messages: user, logprobs: true }), 'logprobs');
  badField(() => parseChatCompletionRequest({ messages: user, response_format: { type: 'json_object' } }), 'response_format');
  assert.doesNotThrow(() => parseChatCompletionRequest({ messages: user, response_format: { type: 'text' }, tools: [], user: 'x', samplers: 'edkypmxt' }));
});

test('chat messages: roles, text parts, refused tool messages and images', () => {
  assert.deepEqual(
    parseChatMessages([
      { role: 'developer', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
      { role: 'assistant', content: null, name: 'bot' },
    ]),
    [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'ab' },
      { role: 'assistant', content: '' },
    ],
  );
  badField(() => parseChatMessages('hi'), 'messages');
  badField(() => parseChatMessages(new Array(MAX_MESSAGES + 1).fill(user[0])), 'messages');
  badField(() => parseChatMessages([{ role: 'function', content: 'x' }]), 'messages[0].role');
  badField(() => parseChatMessages([user[0], 'x']), 'messages[1]');
  badField(() => parseChatMessages([{ role: 'user', content: 5 }]), 'messages[0].content');
  badField(() => parseChatMessages([{ role: 'user', content: [{ type: 'text', text: 1 }] }]), 'messages[0].content[0].text');
});

test('a conversation far over the context loses its oldest turns before tokenizing; a last message alone too long is refused', () => {
  const sys = { role: 'system' as const, content: 's'.repeat(10) };
  const turn = (c: string, n: number) => ({ role: 'user' as const, content: c.repeat(n) });
  assert.deepEqual(dropTurnsOverChars([sys, turn('a', 50), turn('b', 50), turn('c', 30)], 100), [sys, turn('b', 50), turn('c', 30)]);
  assert.deepEqual(dropTurnsOverChars([turn('a', 50), turn('b', 60)], 100), [turn('b', 60)]);
  const unchanged = [sys, turn('a', 10)];
  assert.deepEqual(dropTurnsOverChars(unchanged, 100), unchanged);
  assert.throws(
    () => dropTurnsOverChars([sys, turn('a', 95)], 100),
    (e: unknown) => e instanceof HttpError && e.status === 400 && e.code === 'context_length_exceeded',
  );
});

test('completion requests: one prompt, OpenAI default max_tokens 16, suffix for FIM, refused n/echo/logprobs', () => {
  const p = parseCompletionRequest({ prompt: ['x'], suffix: '' });
  assert.deepEqual([p.prompt, p.suffix, p.maxTokens], ['x', '', 16]);
  assert.equal(parseCompletionRequest({ prompt: 'x' }).suffix, undefined);
  badField(() => parseCompletionRequest({}), 'prompt');
  badField(() => parseCompletionRequest({ prompt: ['a', 'b'] }), 'prompt');
  badField(() => parseCompletionRequest({ prompt: [1, 2] }), 'prompt');
  badField(() => parseCompletionRequest({ prompt: 'x', best_of: 2 }), 'best_of');
  badField(() => parseCompletionRequest({ prompt: 'x', echo: true }), 'echo');
  badField(() => parseCompletionRequest({ prompt: 'x', logprobs: 3 }), 'logprobs');
  badField(() => parseCompletionRequest({ prompt: 'x', max_tokens: -1 }), 'max_tokens');
});

test('infill requests: llama-server defaults, unknown fields ignored, input_extra checked', () => {
  const p = parseInfillRequest({ samplers: ['top_k'], cache_prompt: true, t_max_prompt_ms: 500, n_indent: 4, id_slot: -1 });
  assert.deepEqual([p.inputPrefix, p.inputSuffix, p.prompt, p.extra, p.maxTokens, p.temperature, p.topK, p.stream], ['', '', '', '', 64, 0, 40, false]);
  assert.equal(p.timeBudgetMs, 3000);
  assert.equal(parseInfillRequest({ n_predict: -1 }).maxTokens, 64);
  assert.equal(parseInfillRequest({ n_predict: 0 }).maxTokens, 0);
  assert.equal(parseInfillRequest({ t_max_predict_ms: 250 }).timeBudgetMs, 250);
  assert.equal(parseInfillRequest({ t_max_predict_ms: 0 }).timeBudgetMs, 3000);
  assert.equal(parseInfillRequest({ input_extra: [{ text: 'a', filename: 'x', time: 1 }, { text: 'b\n' }, {}] }).extra, 'a\nb\n');
  badField(() => parseInfillRequest({ input_extra: {} }), 'input_extra');
  badField(() => parseInfillRequest({ input_extra: [3] }), 'input_extra[0]');
  badField(() => parseInfillRequest({ n_predict: -2 }), 'n_predict');
  badField(() => parseInfillRequest({ top_k: 1.5 }), 'top_k');
});

test('stop strings and seeds', () => {
  const body = (stop: unknown) => ({ stop });
  assert.deepEqual(stopStrings(body('\n')), ['\n']);
  assert.deepEqual(stopStrings(body(['a', '', 'b'])), ['a', 'b']);
  assert.deepEqual(stopStrings(body(null)), []);
  badField(() => stopStrings(body([1])), 'stop');
  badField(() => stopStrings(body(new Array(65).fill('x'))), 'stop');
  badField(() => stopStrings(body(['x'.repeat(129)])), 'stop');
  assert.equal(optionalSeed({ seed: 5 }), 5);
  assert.equal(optionalSeed({ seed: -1 }), 2 ** 32 - 1);
  assert.equal(optionalSeed({ seed: 2 ** 32 + 3 }), 3);
  badField(() => optionalSeed({ seed: 0.5 }), 'seed');
});

test('API key: Bearer only, exact match', () => {
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer  abc '), 'abc');
  assert.equal(bearerToken('Basic abc'), undefined);
  assert.equal(bearerToken('Bearer '), undefined);
  assert.equal(bearerToken(undefined), undefined);
  const check = apiKeyCheck('secret');
  assert.doesNotThrow(() => check('Bearer secret'));
  for (const h of [undefined, '', 'Bearer secre', 'Bearer secrets', 'Bearer SECRET', 'secret', 'Basic secret']) {
    assert.throws(
      () => check(h),
      (e: unknown) => e instanceof HttpError && e.status === 401 && e.code === 'invalid_api_key' && e.headers['WWW-Authenticate'] === 'Bearer',
      String(h),
    );
  }
});

test('Host names: loopback or not', () => {
  assert.deepEqual(['localhost:8012', '127.0.0.1:8012', '[::1]:8012', 'LOCALHOST', 'app.localhost:1', '127.1.2.3', '::1'].map((h) => isLoopbackHostname(hostnameOf(h))), [true, true, true, true, true, true, true]);
  assert.deepEqual(['evil.example', 'evil.example:8012', '10.0.0.1:80', '[2001:db8::1]:80', 'localhost.evil.example', '0.0.0.0'].map((h) => isLoopbackHostname(hostnameOf(h))), [false, false, false, false, false, false]);
});

test('text bounds: the head of a text, cut after a line end', () => {
  assert.equal(headAtLine('short', 10), 'short');
  assert.equal(headAtLine('aa\nbbbb\ncccc', 8), 'aa\nbbbb\n');
  assert.equal(headAtLine('aa\nbbbb\ncccc', 7), 'aa\n');
  assert.equal(headAtLine('aaaaaaaaaa', 4), 'aaaa');
  assert.equal(headAtLine('\naaaaaaaa', 4), '\naaa');
});

test('text bounds: the tail of a text, cut at a line start', () => {
  assert.equal(tailAtLine('short', 10), 'short');
  assert.equal(tailAtLine('aaaa\nbbbb\ncc', 8), 'bbbb\ncc');
  assert.equal(tailAtLine('aaaa\nbbbb\ncc', 7), 'bbbb\ncc');
  assert.equal(tailAtLine('aaaa\nbbbb\ncc', 6), 'cc');
  assert.equal(tailAtLine('aaaaaaaaaaaa', 5), 'aaaaa');
  assert.equal(tailAtLine('aaaaaaaaaa\n', 5), 'aaaa\n');
});

test('finish reasons and the error mapping', () => {
  assert.deepEqual((['eos', 'stop', 'length', 'context', 'time'] as const).map(finishReason), ['stop', 'stop', 'length', 'length', 'length']);
  const cases: [unknown, number, string | null][] = [
    [new QueueFullError('chat', 1), 429, 'queue_full'],
    [new EngineGoneError('the model was unloaded'), 503, 'model_unloaded'],
    [new ContextOverflowError('300 tokens exceed the context length of 256'), 400, 'context_length_exceeded'],
    [new ChatTemplateError('roles must alternate', 'render'), 400, 'chat_template_error'],
    [new ChatTemplateError('bad template', 'parse'), 500, 'chat_template_error'],
    [requestFailed('modelLoading', 'loading (10%)'), 503, 'model_loading'],
    [requestFailed('modelError', 'could not load'), 503, 'model_not_loaded'],
    [requestFailed('contextOverflow', 'too long'), 400, 'context_length_exceeded'],
    [new ResponseError(-32603, 'no data'), 500, 'engine_error'],
    [new Error('GPU lost'), 500, 'engine_error'],
  ];
  for (const [e, status, code] of cases) {
    const h = toHttpError(e);
    assert.deepEqual([h.status, h.code], [status, code], String(e));
    assert.deepEqual(Object.keys(h.body.error), ['message', 'type', 'param', 'code']);
  }
});
