/**
 * Every `moecode.*` setting the extension contributes: type, default, description and what a change
 * needs. Plain data (no `vscode` import) so a plain Node test can check it against package.json's
 * `contributes.configuration` (test/editor/settings-sync.test.ts). Read settings through config.ts.
 *
 * `effect` is declared here once:
 *  - 'restart': the daemon process must be restarted (the client does it, see client.ts);
 *  - 'reload': the daemon reloads the model (or switches to or from a remote server) itself when it pulls the new settings (protocol.ts RELOAD_SETTINGS);
 *  - 'live': read on every use.
 */
import { DEFAULT_SETTINGS, FIM_FAMILIES, RELOAD_SETTINGS } from '../daemon/protocol';

export type SettingEffect = 'restart' | 'reload' | 'live';

interface SettingBase {
  description: string;
  effect: SettingEffect;
  /** Forwarded to the daemon in initializationOptions / workspace/configuration. */
  daemon: boolean;
  scope?: 'application' | 'machine' | 'window' | 'resource' | 'language-overridable' | 'machine-overridable';
  order: number;
}
interface StringSetting extends SettingBase { type: 'string'; default: string; enum?: readonly string[]; enumDescriptions?: readonly string[] }
interface NumberSetting extends SettingBase { type: 'number' | 'integer'; default: number; minimum?: number; maximum?: number }
interface BooleanSetting extends SettingBase { type: 'boolean'; default: boolean }
interface StringArraySetting extends SettingBase { type: 'array'; default: readonly string[]; items: { type: 'string' } }
export type SettingSpec = StringSetting | NumberSetting | BooleanSetting | StringArraySetting;

export const ADAPTER_PREFERENCES = ['auto', 'hardware', 'software'] as const;
export type AdapterPreference = (typeof ADAPTER_PREFERENCES)[number];

export const SETTINGS = {
  'model.path': {
    type: 'string',
    default: DEFAULT_SETTINGS.model.path,
    description: 'GGUF model file. Empty: the MOECODE_MODEL environment variable, else the model shipped with the extension. Use "MoeCode: Select Model" to pick one.',
    effect: 'reload',
    daemon: true,
    scope: 'machine-overridable',
    order: 0,
  },
  'inline.enabled': {
    type: 'boolean',
    default: true,
    description: 'Show inline (ghost text) suggestions while typing.',
    effect: 'live',
    daemon: false,
    order: 10,
  },
  'inline.debounceMs': {
    type: 'integer',
    default: 150,
    minimum: 0,
    maximum: 2000,
    description: 'Milliseconds to wait after the last keystroke before asking for a suggestion. While you type faster than this the wait grows, up to twice this value.',
    effect: 'live',
    daemon: false,
    order: 11,
  },
  'inline.languages': {
    type: 'array',
    items: { type: 'string' },
    default: DEFAULT_SETTINGS.inline.languages,
    description: 'Language ids that get inline suggestions, e.g. ["typescript", "python"]. Empty: every language. Prefix an id with "!" to exclude it, e.g. ["!markdown", "!plaintext"].',
    effect: 'live',
    daemon: true,
    order: 12,
  },
  'completion.maxTokens': {
    type: 'integer',
    default: DEFAULT_SETTINGS.completion.maxTokens,
    minimum: 1,
    maximum: 4096,
    description: 'Most tokens one inline suggestion may have.',
    effect: 'live',
    daemon: true,
    order: 20,
  },
  'completion.temperature': {
    type: 'number',
    default: DEFAULT_SETTINGS.completion.temperature,
    minimum: 0,
    maximum: 2,
    description: 'Sampling temperature for inline suggestions; 0 always picks the most likely token.',
    effect: 'live',
    daemon: true,
    order: 21,
  },
  'chat.maxTokens': {
    type: 'integer',
    default: DEFAULT_SETTINGS.chat.maxTokens,
    minimum: 1,
    maximum: 32768,
    description: 'Most tokens one chat answer or explanation may have.',
    effect: 'live',
    daemon: true,
    order: 30,
  },
  'chat.temperature': {
    type: 'number',
    default: DEFAULT_SETTINGS.chat.temperature,
    minimum: 0,
    maximum: 2,
    description: 'Sampling temperature for chat answers and explanations.',
    effect: 'live',
    daemon: true,
    order: 31,
  },
  'engine.backend': {
    type: 'string',
    enum: ['auto', 'gpu', 'cpu'],
    enumDescriptions: [
      'The GPU (WebGPU) on a hardware adapter; the CPU backend (WebAssembly SIMD, multi-threaded) when there is no GPU or only a software WebGPU adapter.',
      'Always WebGPU, even on a software adapter (SwiftShader): slow on the CPU, for testing the GPU path.',
      'Always the CPU backend: never touches the GPU.',
    ],
    default: DEFAULT_SETTINGS.engine.backend,
    description: 'Which backend runs the model. Changing it reloads the model.',
    effect: 'reload',
    daemon: true,
    scope: 'machine-overridable',
    order: 35,
  },
  'engine.kvCacheType': {
    type: 'string',
    enum: ['f16', 'f32'],
    enumDescriptions: ['Half precision, as llama.cpp: half the memory, results within ~1e-3 of f32.', 'Single precision: twice the memory.'],
    default: DEFAULT_SETTINGS.engine.kvCacheType,
    description: 'Element type of the KV cache (the attention keys and values of every slot). Changing it reloads the model.',
    effect: 'reload',
    daemon: true,
    scope: 'machine-overridable',
    order: 36,
  },
  'engine.contextLength': {
    type: 'integer',
    default: DEFAULT_SETTINGS.engine.contextLength,
    minimum: 0,
    maximum: 16777216,
    description:
      "Tokens of context per KV slot (each document kept warm, and chat, has a slot). 0 = automatic: the longest that fits the memory budget, at most the model's training context. A value that does not fit is refused with what to lower. Changing it reloads the model.",
    effect: 'reload',
    daemon: true,
    scope: 'machine-overridable',
    order: 37,
  },
  'cpu.threads': {
    type: 'integer',
    default: DEFAULT_SETTINGS.cpu.threads,
    minimum: 0,
    maximum: 256,
    description: 'Threads of the CPU backend; 0 = the number of physical cores. Changing it reloads the model.',
    effect: 'reload',
    daemon: true,
    scope: 'machine-overridable',
    order: 39,
  },
  'gpu.memoryBudget': {
    type: 'integer',
    default: DEFAULT_SETTINGS.gpu.memoryBudget,
    minimum: 0,
    description:
      "Memory budget in MB. On the GPU backend: GPU memory for the model; a Mixture-of-Experts model larger than it keeps as many experts on the GPU as fit and the others in host memory (run on the CPU, or uploaded when a batch needs them), and a model whose non-expert part does not fit is refused. On the CPU backend: host memory for weights, KV cache and activations. 0 = the MOECODE_GPU_BUDGET environment variable, else automatic: on the CPU (and a software WebGPU adapter) 75% of the free memory, at most twice the weights plus 1 GB; on a hardware GPU no limit (WebGPU does not report a GPU's memory: set this to it). Under the budget the daemon keeps fewer documents warm or a shorter context, or refuses the model, saying what to lower.",
    effect: 'reload',
    daemon: true,
    scope: 'machine-overridable',
    order: 40,
  },
  'gpu.adapter': {
    type: 'string',
    enum: ADAPTER_PREFERENCES,
    enumDescriptions: [
      'A hardware GPU when there is one, else a software (CPU) WebGPU adapter such as SwiftShader.',
      'Only a hardware GPU; fail rather than run slowly on the CPU.',
      'Only a software adapter (SwiftShader): slow, for machines whose GPU driver misbehaves.',
    ],
    default: 'auto',
    description: 'Which WebGPU adapter the daemon uses. Changing it restarts the daemon.',
    effect: 'restart',
    daemon: true,
    scope: 'machine-overridable',
    order: 41,
  },
  'remote.url': {
    type: 'string',
    default: DEFAULT_SETTINGS.remote.url,
    description:
      'Base URL of an OpenAI-compatible server to generate with instead of a local model (no local model is loaded then), e.g. http://gpu-box:30000/v1 (SGLang), http://gpu-box:8000/v1 (vLLM), http://localhost:8080/v1 (llama-server), http://localhost:11434/v1 (Ollama), http://localhost:1234/v1 (LM Studio). Empty: the local model. Its API key is kept in the secret store: "MoeCode: Set Remote API Key…". User settings only, so a workspace cannot send your code and key elsewhere.',
    effect: 'reload',
    daemon: true,
    scope: 'machine',
    order: 50,
  },
  'remote.model': {
    type: 'string',
    default: DEFAULT_SETTINGS.remote.model,
    description: 'Model id on the remote server (as its /v1/models lists it). Empty: the first one listed.',
    effect: 'reload',
    daemon: true,
    scope: 'machine-overridable',
    order: 51,
  },
  'remote.fimTemplate': {
    type: 'string',
    enum: ['auto', ...FIM_FAMILIES],
    enumDescriptions: [
      "Guess from the model id; a model of none of these families gets the server's own fill-in-the-middle (llama-server's /infill, else the OpenAI `suffix` field).",
      'Qwen2.5-Coder and Qwen3-Coder: <|fim_prefix|> … <|fim_suffix|> … <|fim_middle|>.',
      'DeepSeek-Coder v1 and V2: <｜fim▁begin｜> … <｜fim▁hole｜> … <｜fim▁end｜>.',
      'Codestral: [SUFFIX] … [PREFIX] … (suffix first).',
      'StarCoder2: <fim_prefix> … <fim_suffix> … <fim_middle>.',
      'Code Llama: <PRE> … <SUF> … <MID>.',
      'Granite Code: <fim_prefix> … <fim_suffix> … <fim_middle>.',
      'Granite 4.0: <|fim_prefix|> … <|fim_suffix|> … <|fim_middle|>.',
    ],
    default: DEFAULT_SETTINGS.remote.fimTemplate,
    description: 'How inline completions are prompted on the remote server: the fill-in-the-middle template of the model family.',
    effect: 'live',
    daemon: true,
    scope: 'machine-overridable',
    order: 52,
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** Keys whose change restarts the daemon process. */
export const RESTART_KEYS: readonly SettingKey[] = SETTING_KEYS.filter((k) => SETTINGS[k].effect === 'restart');

// The daemon's own list must agree with ours (checked at compile time through the type, and by the sync test).
const reloadFromProtocol: readonly string[] = RELOAD_SETTINGS;
export const RELOAD_KEYS: readonly SettingKey[] = SETTING_KEYS.filter((k) => SETTINGS[k].effect === 'reload');
if (reloadFromProtocol.some((k) => !RELOAD_KEYS.includes(k as SettingKey))) {
  throw new Error(`settings.ts: protocol RELOAD_SETTINGS ${reloadFromProtocol.join(',')} are not all marked 'reload'`);
}

/** The JSON schema objects package.json's `contributes.configuration.properties` holds for our settings. */
export function packageJsonProperties(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const key of SETTING_KEYS) {
    const { effect: _e, daemon: _d, ...schema } = SETTINGS[key] as SettingSpec;
    out[`moecode.${key}`] = JSON.parse(JSON.stringify(schema));
  }
  return out;
}

/** `languages` empty: all; ids allow, "!id" excludes; an exclusion wins over an allowance. */
export function languageEnabled(languages: readonly string[], languageId: string): boolean {
  if (languages.includes(`!${languageId}`)) return false;
  const allowed = languages.filter((id) => !id.startsWith('!'));
  return allowed.length === 0 || allowed.includes('*') || allowed.includes(languageId);
}
