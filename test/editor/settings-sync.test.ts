/** package.json's contributed settings and commands agree with extension/settings.ts and the code. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_SETTINGS, RELOAD_SETTINGS } from '../../daemon/protocol';
import { RESTART_KEYS, SETTINGS, SETTING_KEYS, packageJsonProperties } from '../../extension/settings';

const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
const props: Record<string, Record<string, unknown>> = pkg.contributes.configuration.properties;

test('package.json contributes exactly the settings declared in settings.ts, with the same schema', () => {
  assert.deepEqual(Object.keys(props).sort(), SETTING_KEYS.map((k) => `moecode.${k}`).sort());
  assert.deepEqual(props, packageJsonProperties());
});

test('every daemon setting of protocol.ts has a contributed setting with the daemon default', () => {
  for (const [group, values] of Object.entries(DEFAULT_SETTINGS)) {
    for (const [name, def] of Object.entries(values as Record<string, unknown>)) {
      const key = `${group}.${name}` as keyof typeof SETTINGS;
      assert.ok(SETTINGS[key], `moecode.${key} (protocol.ts) is not contributed`);
      assert.equal(SETTINGS[key].daemon, true, `moecode.${key} must be forwarded to the daemon`);
      assert.deepEqual(props[`moecode.${key}`]!.default, def, `default of moecode.${key}`);
    }
  }
});

test('which settings restart or reload the daemon is declared once and agrees with protocol.ts', () => {
  for (const k of RELOAD_SETTINGS) assert.equal(SETTINGS[k as keyof typeof SETTINGS].effect, 'reload', k);
  assert.deepEqual([...RESTART_KEYS], ['gpu.adapter']);
  for (const k of SETTING_KEYS) if (!SETTINGS[k].daemon) assert.equal(SETTINGS[k].effect, 'live', `${k}: client-only settings apply live`);
});

test('every contributed command has a title and the MoeCode category; menus and keybindings name contributed commands', () => {
  const ids = new Set<string>(pkg.contributes.commands.map((c: { command: string }) => c.command));
  for (const c of pkg.contributes.commands) {
    assert.match(c.command, /^moecode\.[a-z][A-Za-z]+$/);
    assert.ok(c.title && c.category === 'MoeCode', c.command);
  }
  const submenus = new Set<string>((pkg.contributes.submenus ?? []).map((s: { id: string }) => s.id));
  for (const [menu, entries] of Object.entries(pkg.contributes.menus as Record<string, { command?: string; submenu?: string }[]>)) {
    for (const e of entries) {
      if (e.command) assert.ok(ids.has(e.command), `${menu}: ${e.command} is not contributed`);
      if (e.submenu) assert.ok(submenus.has(e.submenu), `${menu}: submenu ${e.submenu} is not declared`);
    }
  }
  for (const k of pkg.contributes.keybindings) assert.ok(ids.has(k.command), `keybinding for ${k.command}`);
  // the selection actions are in the editor context menu
  const context = (pkg.contributes.menus['moecode.editorContext'] as { command: string }[]).map((e) => e.command);
  for (const c of ['moecode.explainSelection', 'moecode.fixSelection', 'moecode.documentSelection', 'moecode.writeTests']) assert.ok(context.includes(c), c);
});
