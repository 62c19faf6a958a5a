/**
 * The `moecode` settings: defaults, overridden by initializationOptions, overridden by what
 * `workspace/configuration` returns (pulled per document for per-resource keys, and once without a
 * scope for the model). Pulled values are cached until `workspace/didChangeConfiguration`; a
 * document's entry is dropped when it closes. Clients without `workspace/configuration` (simple
 * JSON-RPC clients) can push settings in didChangeConfiguration's `settings.moecode` instead.
 */
import type { Connection } from 'vscode-languageserver/node';
import { DEFAULT_SETTINGS, FIM_FAMILIES, SETTINGS_SECTION, type MoecodeSettings, type MoecodeSettingsInput } from '../protocol.js';
import { isObject } from './validate.js';

type Warn = (message: string) => void;

/** Largest moecode.engine.contextLength accepted (16 Mi tokens; a model's training context caps it further). */
export const MAX_CONTEXT_LENGTH = 16 * 1024 * 1024;

function num(v: unknown, ok: (n: number) => boolean): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && ok(v) ? v : undefined;
}

/** `input` over `base`, key by key; invalid values are ignored with a warning. */
export function mergeSettings(base: MoecodeSettings, input: unknown, warn: Warn = () => undefined): MoecodeSettings {
  const out: MoecodeSettings = {
    model: { ...base.model },
    engine: { ...base.engine },
    cpu: { ...base.cpu },
    gpu: { ...base.gpu },
    completion: { ...base.completion },
    inline: { languages: [...base.inline.languages] },
    chat: { ...base.chat },
    remote: { ...base.remote },
  };
  if (!isObject(input)) return out;
  const section = (k: string): Record<string, unknown> => (isObject(input[k]) ? (input[k] as Record<string, unknown>) : {});
  const bad = (key: string, v: unknown) => warn(`setting moecode.${key} = ${JSON.stringify(v)} is invalid; using ${JSON.stringify(key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], out))}`);
  const set = <S extends keyof MoecodeSettings>(s: S, key: keyof MoecodeSettings[S] & string, parse: (v: unknown) => unknown) => {
    const v = section(s)[key];
    if (v === undefined || v === null) return;
    const parsed = parse(v);
    if (parsed === undefined) bad(`${s}.${key}`, v);
    else (out[s] as Record<string, unknown>)[key] = parsed;
  };
  set('model', 'path', (v) => (typeof v === 'string' ? v.trim() : undefined));
  set('engine', 'backend', (v) => (v === 'auto' || v === 'gpu' || v === 'cpu' ? v : undefined));
  set('engine', 'kvCacheType', (v) => (v === 'f16' || v === 'f32' ? v : undefined));
  set('engine', 'contextLength', (v) => num(v, (n) => Number.isInteger(n) && n >= 0 && n <= MAX_CONTEXT_LENGTH));
  set('cpu', 'threads', (v) => num(v, (n) => Number.isInteger(n) && n >= 0 && n <= 256));
  set('gpu', 'memoryBudget', (v) => num(v, (n) => n >= 0));
  set('gpu', 'adapter', (v) => (v === 'auto' || v === 'hardware' || v === 'software' ? v : undefined));
  set('completion', 'maxTokens', (v) => num(v, (n) => Number.isInteger(n) && n >= 1 && n <= 4096));
  set('completion', 'temperature', (v) => num(v, (n) => n >= 0 && n <= 5));
  set('inline', 'languages', (v) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined));
  set('chat', 'maxTokens', (v) => num(v, (n) => Number.isInteger(n) && n >= 1 && n <= 32768));
  set('chat', 'temperature', (v) => num(v, (n) => n >= 0 && n <= 5));
  set('remote', 'url', (v) => (typeof v === 'string' && v.length <= 2048 ? v.trim() : undefined));
  set('remote', 'model', (v) => (typeof v === 'string' && v.length <= 512 ? v.trim() : undefined));
  set('remote', 'fimTemplate', (v) => (v === 'auto' || (FIM_FAMILIES as readonly unknown[]).includes(v) ? v : undefined));
  return out;
}

/** initializationOptions may hold the section itself or `{ moecode: section }`. */
export function sectionOf(options: unknown): MoecodeSettingsInput | undefined {
  if (!isObject(options)) return undefined;
  if (isObject(options[SETTINGS_SECTION])) return options[SETTINGS_SECTION] as MoecodeSettingsInput;
  return options as MoecodeSettingsInput;
}

export class Settings {
  private base: MoecodeSettings = mergeSettings(DEFAULT_SETTINGS, undefined);
  private canPull = false;
  private pushed: unknown;
  private global: Promise<MoecodeSettings> | undefined;
  private readonly perDocument = new Map<string, Promise<MoecodeSettings>>();

  constructor(
    private readonly connection: Connection,
    private readonly warn: Warn,
  ) {}

  /** From initialize: the options and whether the client answers workspace/configuration. */
  initialize(initializationOptions: unknown, canPull: boolean): void {
    this.base = mergeSettings(DEFAULT_SETTINGS, sectionOf(initializationOptions), this.warn);
    this.canPull = canPull;
  }

  get supportsPull(): boolean {
    return this.canPull;
  }

  /** Settings without a scope (model path, GPU budget). */
  get(): Promise<MoecodeSettings> {
    return (this.global ??= this.pull(undefined));
  }

  /** Settings for one document (per-resource values). */
  forDocument(uri: string): Promise<MoecodeSettings> {
    let s = this.perDocument.get(uri);
    if (!s) {
      s = this.pull(uri);
      this.perDocument.set(uri, s);
    }
    return s;
  }

  /** workspace/didChangeConfiguration: forget everything pulled; take pushed settings if any. */
  changed(pushedSettings: unknown): void {
    if (isObject(pushedSettings) && isObject(pushedSettings[SETTINGS_SECTION])) this.pushed = pushedSettings[SETTINGS_SECTION];
    this.global = undefined;
    this.perDocument.clear();
  }

  forget(uri: string): void {
    this.perDocument.delete(uri);
  }

  private async pull(scopeUri: string | undefined): Promise<MoecodeSettings> {
    let s = this.base;
    if (this.pushed !== undefined) s = mergeSettings(s, this.pushed, this.warn);
    if (!this.canPull) return s;
    try {
      const pulled: unknown = await this.connection.workspace.getConfiguration({ scopeUri, section: SETTINGS_SECTION });
      return mergeSettings(s, pulled, this.warn);
    } catch (e) {
      this.warn(`workspace/configuration failed (${(e as Error).message}); using the initialization options`);
      return s;
    }
  }
}
