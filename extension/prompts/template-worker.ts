/**
 * The template worker's entry (bundled as dist/prompt-template-worker.js, started by template-sandbox.ts as a
 * child process with a small V8 heap): renders what the host asks, one request at a time, and answers with the
 * texts or the errors. The host stops this process when a render takes too long; V8 ends it when the heap limit
 * is reached. It exits when the host goes away.
 */
import { Template } from '@huggingface/jinja';
import { TEMPLATE_GLOBALS, useBoundedRange } from './template-globals';
import type { RenderRequest, RenderResponse, TemplateOutcome } from './template-worker-protocol';

const send = process.send?.bind(process);
if (!send) throw new Error('template-worker.ts runs as a child process with an IPC channel (see template-sandbox.ts)');
const reply = (response: RenderResponse): void => void send(response);

process.on('disconnect', () => process.exit(0));
process.on('message', (request: RenderRequest) => {
  const outcomes: TemplateOutcome[] = [];
  let chars = 0;
  for (const source of request.templates) {
    try {
      const template = new Template(source);
      useBoundedRange(template);
      const text = template.render({ ...request.values, ...TEMPLATE_GLOBALS });
      chars += text.length;
      if (chars > request.maxOutputChars) {
        reply({ id: request.id, kind: 'too-large', chars });
        return;
      }
      outcomes.push({ ok: true, text });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      outcomes.push(e instanceof RangeError ? { ok: false, message, exhausted: true } : { ok: false, message });
    }
  }
  reply({ id: request.id, kind: 'rendered', outcomes });
});
reply({ id: 0, kind: 'ready' });
