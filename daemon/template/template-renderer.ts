/**
 * The template renderer's own process (started by template-sandbox.ts; bundled as dist/template-renderer.js):
 * compiles and renders Jinja templates with @huggingface/jinja, one request at a time, and answers over the IPC
 * channel with the texts or the errors. A result longer than the request's limit is refused here; time and
 * memory are bounded by the host (it kills this process when a render runs too long, and V8 ends it at its heap
 * limit: a huge list takes only this process down). It exits when the host goes away.
 */
import { Template } from '@huggingface/jinja';
import { TEMPLATE_GLOBALS, useBoundedRange } from './bounded-range.js';
import { RENDERER_ENV, type RenderRequest, type RenderResponse, type TemplateOutcome } from './template-protocol.js';

/** Compiled templates kept between requests (a chat template is rendered again at every turn). */
const COMPILED_LIMIT = 8;
const compiled = new Map<string, Template>();

function compile(source: string): Template {
  const cached = compiled.get(source);
  if (cached) {
    // most recently used last
    compiled.delete(source);
    compiled.set(source, cached);
    return cached;
  }
  const template = new Template(source);
  useBoundedRange(template);
  if (compiled.size >= COMPILED_LIMIT) compiled.delete(compiled.keys().next().value!);
  compiled.set(source, template);
  return template;
}

/** Renders every template of the request with its context; the output limit counts all of them together. */
export function renderRequest(request: RenderRequest): RenderResponse {
  const outcomes: TemplateOutcome[] = [];
  let chars = 0;
  for (const source of request.templates) {
    let template: Template;
    try {
      template = compile(source);
    } catch (e) {
      outcomes.push(failure('parse', e));
      continue;
    }
    let text: string;
    try {
      text = template.render({ ...request.context, ...TEMPLATE_GLOBALS });
    } catch (e) {
      outcomes.push(failure('render', e));
      continue;
    }
    chars += text.length;
    if (chars > request.maxOutputChars) return { id: request.id, kind: 'too-large', chars };
    outcomes.push({ ok: true, text });
  }
  return { id: request.id, kind: 'rendered', outcomes };
}

function failure(phase: 'parse' | 'render', e: unknown): TemplateOutcome {
  const message = e instanceof Error ? e.message : String(e);
  return e instanceof RangeError ? { ok: false, phase, message, exhausted: true } : { ok: false, phase, message };
}

if (process.send !== undefined && process.env[RENDERER_ENV] === '1') {
  const send = process.send.bind(process);
  process.on('message', (request: RenderRequest) => void send(renderRequest(request)));
  // the host went away: nothing is left to answer
  process.on('disconnect', () => process.exit(0));
  send({ id: 0, kind: 'ready' } satisfies RenderResponse);
}
