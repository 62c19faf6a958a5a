/**
 * The daemon's LSP framing on a byte stream, fed through a real stream in pieces: whole messages in any
 * chunking, bodies that are not JSON reported and skipped, and every kind of broken framing a FramingError
 * after which nothing more is read.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { FramedMessageReader, FramingError, type MessageParseError } from '../../daemon/transport/framed-reader.js';

function frame(body: string | Buffer): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`, 'latin1'), b]);
}

function reader(limits?: { maxHeaderBytes: number; maxContentLength: number }) {
  const input = new PassThrough();
  const messages: unknown[] = [];
  const parseErrors: MessageParseError[] = [];
  const errors: Error[] = [];
  const r = new FramedMessageReader(input, (e) => parseErrors.push(e), limits);
  r.onError((e) => errors.push(e));
  r.listen((m) => messages.push(m));
  return { input, messages, parseErrors, errors };
}

const tick = () => new Promise((r) => setImmediate(r));

test('messages arrive whole whatever the chunking, byte by byte included', async () => {
  const big = { jsonrpc: '2.0', method: 'x', params: { text: 'é'.repeat(200_000) } };
  const bytes = Buffer.concat([frame(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'a' })), frame(JSON.stringify(big)), frame('{"jsonrpc":"2.0","id":2,"method":"b"}')]);
  for (const size of [1, 7, 4096, bytes.length]) {
    const r = reader();
    for (let i = 0; i < bytes.length; i += size) r.input.write(bytes.subarray(i, i + size));
    await tick();
    assert.equal(r.messages.length, 3, `chunks of ${size}`);
    assert.deepEqual(r.messages[1], big);
    assert.equal(r.errors.length, 0);
  }
});

test('a body that is not JSON or not UTF-8 is reported, skipped, and reading goes on', async () => {
  const r = reader();
  r.input.write(Buffer.concat([frame('{"id":'), frame(Buffer.from([0x22, 0xff, 0x22])), frame('{"jsonrpc":"2.0","method":"ok"}')]));
  await tick();
  assert.equal(r.parseErrors.length, 2);
  assert.match(r.parseErrors[0]!.message, /not valid JSON/);
  assert.match(r.parseErrors[1]!.message, /not valid UTF-8/);
  assert.deepEqual(r.messages, [{ jsonrpc: '2.0', method: 'ok' }]);
});

test('broken framing is a FramingError, and nothing after it is read', async () => {
  const cases: [string | Buffer, RegExp][] = [
    ['Content-Length: abc\r\n\r\n{}', /not a byte count/],
    ['Content-Length: 1e3\r\n\r\n{}', /not a byte count/],
    ['Content-Type: application/json\r\n\r\n{}', /without Content-Length/],
    ['garbage\r\n\r\n{}', /header line without a name/],
    ['Content-Length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=latin1\r\n\r\n{}', /charset "latin1"/],
    ['Content-Length: 2000\r\n\r\n{}', /exceeds the limit of 1000/],
    ['Content-Length: 2' + 'x'.repeat(600), /no end of the header block within 512 bytes/],
  ];
  for (const [bytes, reason] of cases) {
    const r = reader({ maxHeaderBytes: 512, maxContentLength: 1000 });
    r.input.write(bytes);
    r.input.write(frame('{"jsonrpc":"2.0","method":"after"}'));
    await tick();
    assert.equal(r.errors.length, 1, String(bytes).slice(0, 40));
    assert.ok(r.errors[0] instanceof FramingError);
    assert.match(r.errors[0]!.message, reason);
    assert.deepEqual(r.messages, [], 'nothing is read after the framing broke');
  }
});
