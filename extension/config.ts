/**
 * Typed access to the `moecode.*` settings (declared in settings.ts). One `Config` per extension
 * lifetime; every getter reads VS Code's configuration afresh, so nothing goes stale.
 */
import * as vscode from 'vscode';
import type { MoecodeSettingsInput } from '../daemon/protocol';
import { RESTART_KEYS, SETTINGS, SETTING_KEYS, languageEnabled, type AdapterPreference, type SettingKey } from './settings';

export const SECTION = 'moecode';

type ValueOf<K extends SettingKey> = (typeof SETTINGS)[K]['default'] extends readonly string[]
  ? string[]
  : (typeof SETTINGS)[K]['default'] extends boolean
    ? boolean
    : (typeof SETTINGS)[K]['default'] extends number
      ? number
      : string;

export class Config {
  get<K extends SettingKey>(key: K, scope?: vscode.ConfigurationScope): ValueOf<K> {
    const value = vscode.workspace.getConfiguration(SECTION, scope).get<unknown>(key);
    return (value ?? SETTINGS[key].default) as ValueOf<K>;
  }

  get modelPath(): string {
    return this.get('model.path').trim();
  }
  get inlineEnabled(): boolean {
    return this.get('inline.enabled');
  }
  get inlineDebounceMs(): number {
    return Math.max(0, this.get('inline.debounceMs'));
  }
  get inlineLanguages(): string[] {
    return this.get('inline.languages');
  }
  get adapter(): AdapterPreference {
    return this.get('gpu.adapter') as AdapterPreference;
  }

  /** Whether `languageId` gets inline suggestions under `moecode.inline.languages` (see settings.ts). */
  isLanguageEnabled(languageId: string): boolean {
    return languageEnabled(this.inlineLanguages, languageId);
  }

  /** The settings the daemon reads, shaped as protocol.ts's `moecode` section. */
  daemonSettings(scope?: vscode.ConfigurationScope): MoecodeSettingsInput & Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const key of SETTING_KEYS) {
      if (!SETTINGS[key].daemon) continue;
      const [group, name] = key.split('.') as [string, string];
      let value: unknown = this.get(key, scope);
      // The daemon only knows an allow-list; exclusions ("!id") are applied here, in the client.
      if (key === 'inline.languages') value = (value as string[]).filter((id) => !id.startsWith('!'));
      (out[group] ??= {})[name] = value;
    }
    return out as MoecodeSettingsInput & Record<string, Record<string, unknown>>;
  }

  /** Changed keys of `e` that need the daemon process restarted. */
  restartKeysChanged(e: vscode.ConfigurationChangeEvent): SettingKey[] {
    return RESTART_KEYS.filter((k) => e.affectsConfiguration(`${SECTION}.${k}`));
  }

  async set<K extends SettingKey>(key: K, value: ValueOf<K>, target?: vscode.ConfigurationTarget): Promise<void> {
    const config = vscode.workspace.getConfiguration(SECTION);
    // Write where the value is set now (workspace over user), so the change takes effect.
    const info = config.inspect(key);
    const where =
      target ??
      (info?.workspaceFolderValue !== undefined
        ? vscode.ConfigurationTarget.WorkspaceFolder
        : info?.workspaceValue !== undefined
          ? vscode.ConfigurationTarget.Workspace
          : vscode.ConfigurationTarget.Global);
    await config.update(key, value, where);
  }
}
