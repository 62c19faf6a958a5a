/**
 * The chat-template renderer's own process (started by chat-template-sandbox.ts; bundled as
 * dist/chat-template-renderer.js). It compiles and renders Jinja templates with @huggingface/jinja and
 * answers over the IPC channel, one job at a time. A rendered text longer than the job's limit is
 * refused here; time and memory are bounded by the parent (it kills this process when a render runs
 * too long, and V8 ends it when its heap limit is reached: a huge range() or list takes only this
 * process down).
 */
import { Template } from '@huggingface/jinja';

export interface RenderJob {
  id: number;
  template: string;
  /** Template variables: messages, bos_token, eos_token, add_generation_prompt, … */
  context: Record<string, unknown>;
  /** Longest rendered text accepted, in UTF-16 code units. */
  maxOutputChars: number;
}

export type RenderReply =
  | { id: number; ok: true; text: string }
  | { id: number; ok: false; phase: 'parse' | 'render' | 'output'; message: string };

export type RendererMessage = { ready: true } | RenderReply;

const COMPILED_LIMIT = 8;
const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let t = compiled.get(source);
  if (t !== undefined) return t;
  t = new Template(source);
  if (compiled.size >= COMPILED_LIMIT) compiled.delete(compiled.keys().next().value!);
  compiled.set(source, t);
  return t;
}

export function renderJob(job: RenderJob): RenderReply {
  let t: Template;
  try {
    t = compile(job.template);
  } catch (e) {
    return { id: job.id, ok: false, phase: 'parse', message: messageOf(e) };
  }
  let text: string;
  try {
    text = t.render(job.context);
  } catch (e) {
    return { id: job.id, ok: false, phase: 'render', message: messageOf(e) };
  }
  if (text.length > job.maxOutputChars) {
    return { id: job.id, ok: false, phase: 'output', message: `it wrote ${text.length} characters (limit ${job.maxOutputChars})` };
  }
  return { id: job.id, ok: true, text };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

if (process.send !== undefined && process.env.MOECODE_TEMPLATE_RENDERER === '1') {
  process.on('message', (job: RenderJob) => process.send!(renderJob(job)));
  // the parent went away: nothing is left to answer
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true } satisfies RendererMessage);
}
