/**
 * range() for the template renderer in place of the engine's own, to keep a template's lists small:
 * @huggingface/jinja's range() builds its whole list first, and `range(1000000000)` grows an array until V8
 * ends the renderer with "Fatal JavaScript invalid size error" after seconds of work. This range() refuses
 * more than MAX_RANGE_ITEMS items up front, with a message that says so.
 *
 * The engine's globals cannot be replaced through render()'s variables (Environment.set refuses a name it
 * already has), so the parsed template's `range` names are pointed at another name that is given instead.
 */
import type { Template } from '@huggingface/jinja';

export const MAX_RANGE_ITEMS = 100_000;

/** Jinja's range(stop) / range(start, stop[, step]), at most MAX_RANGE_ITEMS items; a RangeError past that. */
export function boundedRange(start: unknown, stop?: unknown, step: unknown = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  for (const [name, value] of [['start', start], ['stop', stop], ['step', step]] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`range() ${name} must be a number, got ${String(value)}`);
  }
  const [from, to, by] = [start as number, stop as number, step as number];
  if (by === 0) throw new Error('range() step must not be zero');
  const count = Math.max(0, Math.ceil((to - from) / by));
  if (count > MAX_RANGE_ITEMS) {
    throw new RangeError(`range() of ${count.toLocaleString('en')} items is more than the ${MAX_RANGE_ITEMS.toLocaleString('en')} a template may use`);
  }
  const items: number[] = [];
  for (let i = 0; i < count; i++) items.push(from + i * by);
  return items;
}

/** The name `range` becomes in a parsed template (no template variable or engine name looks like it). */
export const RANGE_ALIAS = '__moecode_bounded_range__';

/**
 * Renames every `range` name of the parsed template to RANGE_ALIAS, but not attribute names (`x.range`) nor
 * keyword-argument names in calls (`namespace(range=3)`). (A macro with a parameter named `range`, called with
 * `range=` as a keyword, would no longer match; no template needs that.)
 */
export function useBoundedRange(template: Template): void {
  const seen = new Set<object>();
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    const n = node as { type?: unknown; value?: unknown; computed?: unknown; object?: unknown; callee?: unknown; args?: unknown };
    if (n.type === 'Identifier' && n.value === 'range') n.value = RANGE_ALIAS;
    if (n.type === 'MemberExpression' && n.computed === false) {
      visit(n.object); // `x.range`: an attribute name, not the global
      return;
    }
    if (n.type === 'CallExpression' && Array.isArray(n.args)) {
      visit(n.callee);
      // `namespace(range=3)`: a keyword argument's name is not the global either
      for (const arg of n.args as { type?: unknown; value?: unknown }[]) visit(arg?.type === 'KeywordArgumentExpression' ? arg.value : arg);
      return;
    }
    for (const child of Object.values(node)) visit(child);
  };
  visit(template.parsed);
}

/** What the renderer adds to every render's variables. */
export const TEMPLATE_GLOBALS = { [RANGE_ALIAS]: boundedRange } as const;
