/**
 * The event-stream parser and the reading of streamed chunks, on text as servers send it: the chunks
 * below are copied in shape from vLLM, SGLang and llama.cpp issue reports (role-only first chunks,
 * `content: null`, finish chunks of their own, usage chunks with `choices: []`, llama-server's own
 * format) and fed in every split a network may produce.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RemoteHttpError, RemoteProtocolError } from '../../daemon/remote/errors.js';
import { MAX_SSE_LINE_CHARS, SseLineTooLongError, SseParser, type SseEvent } from '../../daemon/remote/sse.js';
import { readStreamEvent } from '../../daemon/remote/stream-chunk.js';

function parseAll(pieces: string[]): SseEvent[] {
  const p = new SseParser();
  const out = pieces.flatMap((x) => p.push(x));
  return [...out, ...p.end()];
}

/** Every way of cutting `text` in two, plus one character at a time. */
function splits(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

test('SSE: LF, CRLF and CR line ends, cut anywhere, give the same events', () => {
  const body = ': ping\n\ndata: {"a":1}\n\nevent: error\ndata: x\n\ndata: line1\ndata: line2\n\ndata:[DONE]\n\n';
  const expected = [
    { event: 'message', data: '{"a":1}' },
    { event: 'error', data: 'x' },
    { event: 'message', data: 'line1\nline2' },
    { event: 'message', data: '[DONE]' },
  ];
  for (const eol of ['\n', '\r\n', '\r']) {
    const text = body.replace(/\n/g, eol);
    for (const pieces of splits(text)) assert.deepEqual(parseAll(pieces), expected, `${JSON.stringify(eol)} ${JSON.stringify(pieces)}`);
  }
});

test('SSE: a BOM is dropped, comments and unknown fields are ignored, an unfinished last event is still delivered', () => {
  assert.deepEqual(parseAll(['\ufeffdata: a\n\n']), [{ event: 'message', data: 'a' }]);
  assert.deepEqual(parseAll(['id: 7\nretry: 100\n: keep-alive\ndata: b\n\n']), [{ event: 'message', data: 'b' }]);
  assert.deepEqual(parseAll(['data: {"content":"x","stop":true}']), [{ event: 'message', data: '{"content":"x","stop":true}' }]);
  assert.deepEqual(parseAll(['\n\n\n']), []);
});

test('SSE: a line that never ends is refused past the bound instead of growing without limit', () => {
  const p = new SseParser();
  const chunk = 'x'.repeat(1024 * 1024);
  assert.throws(() => {
    for (let i = 0; i <= MAX_SSE_LINE_CHARS / chunk.length; i++) p.push(chunk);
  }, SseLineTooLongError);
});

test('SSE: data lines with no blank line to end their event are refused past the bound too', () => {
  const p = new SseParser();
  const line = `data: ${'y'.repeat(64 * 1024)}\n`;
  assert.throws(
    () => {
      for (let i = 0; i <= MAX_SSE_LINE_CHARS / (64 * 1024) + 1; i++) assert.deepEqual(p.push(line), []);
    },
    (e: unknown) => e instanceof SseLineTooLongError && /event/.test(e.message),
  );
  // events of normal size still come through, each ending the count of the one before
  const q = new SseParser();
  for (let i = 0; i < 200; i++) assert.equal(q.push(`data: ${'z'.repeat(64 * 1024)}\n\n`).length, 1);
});

const URL_ = 'http://gpu-box:30000/v1/chat/completions';
const read = (data: string, event = 'message') => readStreamEvent({ event, data }, URL_);

test('chat chunks of vLLM: role-only first chunk, content chunks, a finish chunk with empty content, usage with no choices', () => {
  const first = read('{"id":"chatcmpl-8b2b","object":"chat.completion.chunk","created":1772423572,"model":"qwen3_8b","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}');
  assert.deepEqual(first, { text: '', done: false });
  assert.deepEqual(read('{"id":"x","choices":[{"index":0,"delta":{"content":" ."},"logprobs":null,"finish_reason":null}]}'), { text: ' .', done: false });
  assert.deepEqual(read('{"id":"x","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop","stop_reason":null}]}'), { text: '', finishReason: 'stop', done: false });
  // the newer form: finish with an empty delta
  assert.deepEqual(read('{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}'), { text: '', finishReason: 'length', done: false });
  assert.deepEqual(read('{"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}'), { text: '', usage: { promptTokens: 12, completionTokens: 5, cachedTokens: undefined }, done: false });
  assert.deepEqual(read('[DONE]'), { text: '', done: true });
});

test('chat chunks of SGLang: role null, content null, usage null on every chunk, finish with matched_stop', () => {
  assert.deepEqual(
    read('{"id":"93b6","object":"chat.completion.chunk","created":1742289669,"model":"DeepSeek-R1","choices":[{"index":0,"delta":{"role":null,"content":"提供","reasoning_content":null,"tool_calls":null},"logprobs":null,"finish_reason":null,"matched_stop":null}],"usage":null}'),
    { text: '提供', done: false },
  );
  assert.deepEqual(read('{"choices":[{"index":0,"delta":{"role":null,"content":null,"reasoning_content":null},"finish_reason":"stop","matched_stop":151643}],"usage":null}'), { text: '', finishReason: 'stop', done: false });
  // SGLang's gRPC path repeats the role in every delta
  assert.deepEqual(read('{"choices":[{"index":0,"delta":{"role":"assistant","content":"10","reasoning_content":null},"logprobs":null,"finish_reason":null}]}'), { text: '10', done: false });
});

test("llama-server: content null in the first delta, timings on the finish chunk, usage with cached tokens; /infill's own format", () => {
  assert.deepEqual(read('{"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1,"object":"chat.completion.chunk"}'), { text: '', done: false });
  assert.deepEqual(read('{"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"timings":{"prompt_n":20,"predicted_n":4}}'), { text: '', finishReason: 'stop', done: false });
  assert.deepEqual(read('{"choices":[],"usage":{"completion_tokens":4,"prompt_tokens":20,"prompt_tokens_details":{"cached_tokens":16}}}').usage, { promptTokens: 20, completionTokens: 4, cachedTokens: 16 });
  assert.deepEqual(read('{"index":0,"content":"a + ","stop":false,"id_slot":0}'), { text: 'a + ', done: false });
  assert.deepEqual(read('{"index":0,"content":"","stop":true,"stop_type":"limit","tokens_predicted":16,"tokens_evaluated":30}'), { text: '', done: true, finishReason: 'length', usage: { promptTokens: 30, completionTokens: 16 } });
  // text-completion chunks (llama-server and ik_llama /v1/completions)
  assert.deepEqual(read('{"choices":[{"text":"Hello","index":0,"logprobs":null,"finish_reason":null}],"object":"text_completion"}'), { text: 'Hello', done: false });
});

test('an error in the stream is a typed RemoteHttpError with the server words; non-JSON is a RemoteProtocolError', () => {
  assert.throws(() => read('{"error":{"code":500,"message":"slot unavailable","type":"server_error"}}'), (e: unknown) => e instanceof RemoteHttpError && e.status === 500 && /slot unavailable/.test(e.message));
  assert.throws(() => read('{"object":"error","message":"boom","code":400}', 'error'), (e: unknown) => e instanceof RemoteHttpError && e.status === 400 && /boom/.test(e.message));
  assert.throws(() => read('{"error":"Unauthorized"}'), RemoteHttpError);
  assert.throws(() => read('not json'), RemoteProtocolError);
  assert.throws(() => read('[1,2]'), RemoteProtocolError);
});
