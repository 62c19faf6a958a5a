/**
 * MoeCode's LSP contract: every custom request and notification the daemon and its clients exchange,
 * plus the settings both read. The VS Code extension imports this module, so it depends on nothing but
 * `vscode-languageserver-protocol` (no Node-only modules, nothing from the engine).
 *
 * Standard LSP the daemon also serves: initialize / initialized / shutdown / exit, full and incremental
 * text document sync, `textDocument/inlineCompletion` (LSP 3.18), `workspace/didChangeConfiguration`
 * (it then pulls `workspace/configuration` for the `moecode` section), `$/cancelRequest`, and
 * `window/logMessage` for every log line (stdout carries only the protocol).
 *
 * ## Other editors
 * Start `moecode-daemon --stdio` and pass the settings as initializationOptions, e.g. Neovim:
 *   vim.lsp.start({ name = 'moecode', cmd = { 'moecode-daemon', '--stdio' },
 *                   init_options = { model = { path = '/models/coder.gguf' } } })
 * (or set MOECODE_MODEL). Any client that sends `textDocument/inlineCompletion` gets suggestions; the
 * custom requests below are plain JSON-RPC. To use an OpenAI-compatible server instead of a local model,
 * pass `remote = { url = 'http://gpu-box:30000/v1' }` and put its key in `MOECODE_REMOTE_API_KEY`.
 *
 * ## Streaming (chat and explain)
 * A request that wants its answer as it is written names a `streamId` (any string or number the client
 * picks, unique among its requests in flight). The server then sends `moecode/stream/didAppend`
 * notifications `{ streamId, seq, delta }` in order while it generates, and finally answers the request
 * with the whole text. Concatenating the deltas gives exactly `result.text`. Plain JSON-RPC clients
 * (Neovim: `handlers['moecode/stream/didAppend']`) need nothing beyond a notification handler. Without a
 * `streamId` no notifications are sent.
 *
 * ## Errors
 * Requests fail with standard codes: `MethodNotFound` (-32601) for unknown methods, `InvalidParams`
 * (-32602) for malformed or missing params (requests typed with params need at least `{}`), `RequestCancelled` (-32800) after `$/cancelRequest`,
 * `ServerNotInitialized` (-32002) before `initialize`, `InvalidRequest` (-32600) after `shutdown`, and
 * `RequestFailed` (-32803) for everything that is well-formed but cannot be served now; its `data` is a
 * {@link MoecodeErrorData} whose `reason` says why (no model, model still loading, queue full, …).
 *
 * ## Inline completion cancellation
 * `$/cancelRequest` stops generation at the next token and the request answers at once with
 * `RequestCancelled`. A newer `textDocument/inlineCompletion` for the same document supersedes an older
 * one still queued or running: the older one answers at once with an empty list.
 */
import { NotificationType, RequestType, RequestType0, type Range, type TextDocumentIdentifier } from 'vscode-languageserver-protocol';

// ---------------------------------------------------------------------------------------------------
// Settings: the `moecode` section of workspace/configuration, also accepted as initializationOptions.

/** Section name for `workspace/configuration`. */
export const SETTINGS_SECTION = 'moecode';

/** Which backend runs the model: 'auto' (a hardware GPU through WebGPU, else the CPU backend), 'gpu' or 'cpu'. */
export type BackendPreference = 'auto' | 'gpu' | 'cpu';

/** Which WebGPU adapter the daemon may use. */
export type GpuAdapterPreference = 'auto' | 'hardware' | 'software';

/** Element type of the KV cache: 'f16' (llama.cpp's default, half the memory) or 'f32'. */
export type KvCacheType = 'f16' | 'f32';

/**
 * Model families whose fill-in-the-middle prompt the daemon can write for a remote server
 * (daemon/remote/fim-families.ts holds each one's template and stop strings).
 */
export const FIM_FAMILIES = ['qwen-coder', 'deepseek-coder', 'codestral', 'starcoder2', 'codellama', 'granite-code', 'granite4'] as const;
export type FimFamilyId = (typeof FIM_FAMILIES)[number];
/** `moecode.remote.fimTemplate`: 'auto' guesses the family from the model id. */
export type FimTemplateSetting = 'auto' | FimFamilyId;

/** The `moecode` settings section (VS Code keys `moecode.model.path`, `moecode.gpu.memoryBudget`, …). */
export interface MoecodeSettings {
  model: {
    /** GGUF file. Empty: the `MOECODE_MODEL` environment variable, else the shipped default model. */
    path: string;
  };
  engine: {
    /**
     * 'auto': the GPU backend on a hardware WebGPU adapter, the CPU backend (WebAssembly SIMD) when there is
     * none or only a software one; 'gpu': WebGPU whatever the adapter; 'cpu': never WebGPU.
     */
    backend: BackendPreference;
    /** KV cache element type, on both backends. */
    kvCacheType: KvCacheType;
    /**
     * Context length of each KV slot, in tokens; 0 = automatic: the longest that fits the memory budget
     * (at most the model's training context) with as many slots as fit. Larger than the training context:
     * capped at it. A value that does not fit is refused with what to lower.
     */
    contextLength: number;
  };
  cpu: {
    /** Threads of the CPU backend; 0 = the machine's physical cores. */
    threads: number;
  };
  gpu: {
    /**
     * Upper bound in MB for weights + KV cache + activations; 0 = automatic: 75% of the host's free memory
     * when the model is loaded, and at most twice the weights plus 1 GiB (WebGPU does not tell a GPU's own
     * memory: set it for a GPU). The daemon gives fewer KV slots or a shorter context, or refuses the model,
     * to stay under it.
     */
    memoryBudget: number;
    /** WebGPU adapter: 'auto' (hardware first, else a software adapter such as SwiftShader), 'hardware' or 'software'. */
    adapter: GpuAdapterPreference;
  };
  completion: {
    /** Most tokens an inline suggestion may have. */
    maxTokens: number;
    /** 0 = greedy. */
    temperature: number;
  };
  inline: {
    /** Language ids that get inline suggestions; empty = all. */
    languages: string[];
  };
  chat: {
    maxTokens: number;
    temperature: number;
  };
  remote: {
    /**
     * Base URL of an OpenAI-compatible server (SGLang, vLLM, llama-server, Ollama, LM Studio), e.g.
     * `http://gpu-box:30000/v1`. Empty: the local engine. Set: no local model is loaded; inline
     * completions, chat and explain go to the server. Its API key never travels in settings: the
     * `MOECODE_REMOTE_API_KEY` environment variable of the daemon, or {@link RemoteApiKeyNotification}.
     */
    url: string;
    /** Model id on the server; empty: the first id `/v1/models` lists. */
    model: string;
    /** FIM prompt family for inline completions; 'auto' guesses it from the model id (unknown: the server's own `suffix` / `/infill`). */
    fimTemplate: FimTemplateSetting;
  };
}

/** Settings as a client sends them: any subset. */
export type MoecodeSettingsInput = { [K in keyof MoecodeSettings]?: Partial<MoecodeSettings[K]> };

export const DEFAULT_SETTINGS: Readonly<MoecodeSettings> = Object.freeze({
  model: { path: '' },
  engine: { backend: 'auto' as BackendPreference, kvCacheType: 'f16' as KvCacheType, contextLength: 0 },
  cpu: { threads: 0 },
  gpu: { memoryBudget: 0, adapter: 'auto' as GpuAdapterPreference },
  completion: { maxTokens: 64, temperature: 0 },
  inline: { languages: [] },
  chat: { maxTokens: 512, temperature: 0.2 },
  remote: { url: '', model: '', fimTemplate: 'auto' as FimTemplateSetting },
});

/**
 * `initializationOptions` of `initialize`: the `moecode` settings, either as the section itself or
 * nested under `moecode` (both shapes are accepted). Settings pulled later by `workspace/configuration`
 * override these key by key.
 */
export type MoecodeInitializationOptions = MoecodeSettingsInput | { moecode?: MoecodeSettingsInput };

/** Settings whose change needs the model reloaded or the remote server switched (the daemon does it itself, without restarting). */
export const RELOAD_SETTINGS = ['model.path', 'gpu.memoryBudget', 'engine.backend', 'engine.kvCacheType', 'engine.contextLength', 'cpu.threads', 'remote.url', 'remote.model'] as const;

// ---------------------------------------------------------------------------------------------------
// Errors

export type MoecodeErrorReason =
  /** No model path is set, MOECODE_MODEL is unset and no default model is installed. */
  | 'noModel'
  /** The model is still loading; retry after `moecode/status/didChange` says ready. */
  | 'modelLoading'
  /** The model failed to load; `message` says why (also in status). */
  | 'modelError'
  /** Too many requests of this kind are waiting; nothing was queued. */
  | 'queueFull'
  /** The request names a document that is not open (send `textDocument/didOpen` first) or was closed. */
  | 'unknownDocument'
  /** The prompt does not fit the model's context. */
  | 'contextOverflow'
  /** The model's chat template failed: it does not parse, raised an error, or ran past its time, memory or output limit. */
  | 'chatTemplate'
  /** Generation failed on the GPU or in the engine. */
  | 'engineError'
  /** `moecode.remote.url` is set but the server cannot be reached (status `remote.state` unreachable); the daemon keeps probing it. */
  | 'remoteUnreachable'
  /** The remote server refused the API key (HTTP 401/403). */
  | 'remoteUnauthorized'
  /** The remote server answered the request with an error (`message` has its words). */
  | 'remoteError'
  /** A local model was asked for while `moecode.remote.url` is set. */
  | 'remoteActive';

/** `data` of a `RequestFailed` (-32803) error. */
export interface MoecodeErrorData {
  reason: MoecodeErrorReason;
}

// ---------------------------------------------------------------------------------------------------
// Generation results shared by chat and explain

export type StopReason = 'eos' | 'stop' | 'length' | 'context' | 'cancelled' | 'time';

/** Options a chat or explain request may set; unset ones come from the `moecode.chat` settings. */
export interface GenerationOptions {
  maxTokens?: number;
  temperature?: number;
  /** Sampling seed (default fixed: the same request gives the same answer). */
  seed?: number;
  /** Stream the answer with `moecode/stream/didAppend` notifications carrying this id. */
  streamId?: string | number;
}

export interface GenerationResult {
  /** The whole answer (equal to the concatenated stream deltas). */
  text: string;
  stopReason: StopReason;
  /** Tokens in the rendered prompt. */
  promptTokens: number;
  /** Prompt tokens taken from the KV cache instead of evaluated. */
  reusedTokens: number;
  generatedTokens: number;
  prefillMs: number;
  decodeMs: number;
  /** What the daemon left out of the request to fit the model's context, as sentences for the user (absent when nothing). */
  notes?: string[];
}

// ---------------------------------------------------------------------------------------------------
// Chat

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/**
 * Context attached to a chat: a selection or a file excerpt. The daemon writes it (path, language,
 * fenced text) into the last user message. When `text` is omitted the daemon reads it from the open
 * document `uri` (the `range` of it, or all of it), so simple clients only send locations.
 */
export interface ContextAttachment {
  kind: 'selection' | 'file';
  /** Document URI (required when `text` is omitted; the document must be open). */
  uri?: string;
  /** Path shown to the model (workspace-relative if the client likes); default: from `uri`. */
  path?: string;
  /** LSP language id; default: the open document's. */
  languageId?: string;
  /** The part of the document meant; with `text` it only labels the excerpt (line numbers). */
  range?: Range;
  text?: string;
}

export interface ChatParams extends GenerationOptions {
  /** The conversation so far, ending with the user's message. A leading system message replaces the default one. */
  messages: ChatMessage[];
  attachments?: ContextAttachment[];
}

export type ChatResult = GenerationResult;

/** client → server request: answer a conversation with the model's chat template; may stream. */
export namespace ChatRequest {
  export const method = 'moecode/chat/send' as const;
  export const type = new RequestType<ChatParams, ChatResult, void>(method);
}

// ---------------------------------------------------------------------------------------------------
// Explain

export interface ExplainParams extends GenerationOptions {
  textDocument: TextDocumentIdentifier;
  /** The code to explain; nearby lines are added as context. */
  range: Range;
  /** What the user wants to know (default: what the code does). */
  question?: string;
}

export type ExplainResult = GenerationResult;

/** client → server request: explain a range of an open document (language, path and nearby code go into the prompt); may stream. */
export namespace ExplainRequest {
  export const method = 'moecode/code/explain' as const;
  export const type = new RequestType<ExplainParams, ExplainResult, void>(method);
}

// ---------------------------------------------------------------------------------------------------
// Streaming

export interface StreamAppendParams {
  /** The `streamId` of the request this text belongs to. */
  streamId: string | number;
  /** 0, 1, 2, … per stream; notifications arrive in order. */
  seq: number;
  /** Text to append. */
  delta: string;
}

/** server → client notification: the next piece of a streamed chat or explain answer. */
export namespace StreamAppendNotification {
  export const method = 'moecode/stream/didAppend' as const;
  export const type = new NotificationType<StreamAppendParams>(method);
}

// ---------------------------------------------------------------------------------------------------
// Status

/**
 * loading: a model is being loaded (`progress` 0–100); ready: idle, requests are served; busy: generating;
 * error: no usable model (`message` says why; requests fail with RequestFailed); unloaded: no model
 * loaded, by `moecode/model/unload` or because none is configured yet.
 */
export type DaemonState = 'loading' | 'ready' | 'busy' | 'error' | 'unloaded';

export interface MemoryStatus {
  /** Model weights on the GPU, bytes. */
  weightsBytes: number;
  /** KV cache (all slots), bytes. */
  kvCacheBytes: number;
  /** Activation and scratch buffers, bytes. */
  activationsBytes: number;
  totalBytes: number;
  /** The memory budget the model was planned under, bytes: `moecode.gpu.memoryBudget`, or the automatic one. */
  budgetBytes: number;
  /** Where the budget comes from: "moecode.gpu.memoryBudget", or how the automatic budget was derived. */
  budgetSource?: string;
  /** KV cache element type. */
  kvCacheType?: KvCacheType;
  /** Independent KV slots (documents whose caches are kept warm, plus chat). */
  kvSlots: number;
  /** Context length per slot, tokens. */
  contextLength: number;
}

/**
 * Where a model's routed experts live and how the GPU expert cache does (GPU backend). Under a
 * `moecode.gpu.memoryBudget` smaller than the model, experts that do not fit stay in host memory and run
 * on the CPU, or are uploaded into GPU slots when that is cheaper (README: "Models larger than GPU memory").
 */
export interface ExpertStatus {
  /** Routed experts with a GPU slot, and all routed experts. */
  onGpu: number;
  total: number;
  /** Share of routed (token, expert) choices served by an expert already on the GPU since load, 0–1. */
  hitRate: number;
  /** Share of the next layer's routed experts the prefetch predicted, 0–1; absent before any prediction. */
  prefetchAccuracy?: number;
  /** Expert bytes uploaded to the GPU per token since load (on demand, migrations, prefetch). */
  uploadedBytesPerToken: number;
}

/**
 * The remote server, when `moecode.remote.url` is set. connecting: not answered yet; ok: `/v1/models`
 * answered and the model is served; unreachable: no connection (refused, timed out, DNS);
 * unauthorized: the API key was refused (401/403); error: the server answered but cannot serve
 * (named model missing, 5xx, not OpenAI-compatible). While it is not ok the daemon probes it again with
 * backoff and recovers by itself.
 */
export interface RemoteStatus {
  /** The base URL as configured (normalised: no trailing slash). */
  url: string;
  state: 'connecting' | 'ok' | 'unreachable' | 'unauthorized' | 'error';
  /** The model id used (the setting, or the first listed); '' before the server answered. */
  model: string;
  /** How inline completions are asked: a FIM family id, 'infill' (llama-server's /infill) or 'suffix' (/v1/completions with `suffix`). */
  fim: FimFamilyId | 'infill' | 'suffix' | '';
  /** What went wrong, in words that name the server. */
  message?: string;
}

export interface StatusParams {
  /**
   * With a remote server: ready / busy while it is ok, loading while connecting, error otherwise
   * (`remote` says which). `modelName` is then the remote model id and `modelPath`, `adapter` and
   * `memory` are empty.
   */
  state: DaemonState;
  /** Load progress, 0–100 (100 once loaded). */
  progress: number;
  /** Model name from the GGUF (or its file name); '' with no model. */
  modelName: string;
  modelPath: string;
  /** What runs the model, e.g. "NVIDIA GeForce RTX 4070 (vulkan)" or "CPU: WebAssembly SIMD, 8 threads". */
  adapter: string;
  /** Which backend runs the model ('' before one is loaded). */
  backend: 'gpu' | 'cpu' | '';
  /** Threads of the CPU backend (0 on the GPU). */
  threads: number;
  /** A software (CPU) WebGPU adapter such as SwiftShader: correct but slow. */
  isSoftwareFallback: boolean;
  memory?: MemoryStatus;
  /** Expert placement and cache (GPU backend, MoE models); absent otherwise. */
  experts?: ExpertStatus;
  /** Prompt tokens evaluated per second in the last request (0 before any). */
  lastPrefillTokPerSec: number;
  /** Tokens generated per second in the last request (0 before any). */
  lastDecodeTokPerSec: number;
  /** Why the state is error, or what is happening (e.g. "loading weights"). */
  message?: string;
  /** Set when `moecode.remote.url` is: the remote server's state. */
  remote?: RemoteStatus;
}

/** client → server request: the current status. */
export namespace StatusRequest {
  export const method = 'moecode/status/get' as const;
  export const type = new RequestType0<StatusParams, void>(method);
}

/** server → client notification: the status changed (state, load progress, speeds, …). */
export namespace StatusDidChangeNotification {
  export const method = 'moecode/status/didChange' as const;
  export const type = new NotificationType<StatusParams>(method);
}

// ---------------------------------------------------------------------------------------------------
// Remote server

export interface RemoteApiKeyParams {
  /** The key sent as `Authorization: Bearer …` from now on; null: none. */
  apiKey: string | null;
  /**
   * Instead of `apiKey`: the key sealed with the secret in the daemon's MOECODE_KEY_SEAL
   * (remote/api-key-seal.ts), so that a trace of the LSP messages does not show it. VS Code sends this.
   */
  sealedApiKey?: string;
}

/**
 * client → server notification: the remote server's API key changed (VS Code keeps it in SecretStorage,
 * never in settings). Once sent it replaces the daemon's `MOECODE_REMOTE_API_KEY`, the key given at
 * start-up (as any editor may); the daemon probes the server again at once.
 */
export namespace RemoteApiKeyNotification {
  export const method = 'moecode/remote/didChangeApiKey' as const;
  export const type = new NotificationType<RemoteApiKeyParams>(method);
}

// ---------------------------------------------------------------------------------------------------
// Model load / unload

/** Params of `moecode/model/load` (required: send `{}` to reload the configured model). */
export interface ModelLoadParams {
  /** GGUF to load; omitted: the configured model (setting → MOECODE_MODEL → default). */
  path?: string;
}

/**
 * client → server request: (re)load a model; answers once it is loaded with the new status (state
 * ready), or fails with RequestFailed (reason modelError / noModel; remoteActive while `moecode.remote.url` is set). Requests waiting for the engine
 * are served by the new model; generations running on the old one are cancelled.
 */
export namespace ModelLoadRequest {
  export const method = 'moecode/model/load' as const;
  export const type = new RequestType<ModelLoadParams, StatusParams, void>(method);
}

/** client → server request: unload the model and free GPU memory; state becomes unloaded. */
export namespace ModelUnloadRequest {
  export const method = 'moecode/model/unload' as const;
  export const type = new RequestType0<StatusParams, void>(method);
}

// ---------------------------------------------------------------------------------------------------
// Debug: the scheduler's internals, for tests and bug reports

export interface DebugSlot {
  slot: number;
  /** What holds it: a document URI, 'chat', or null when free. */
  owner: string | null;
  /** Tokens its KV cache holds. */
  cachedTokens: number;
  /** A generation is using it right now. */
  busy: boolean;
}

export interface GenerationStats {
  kind: 'completion' | 'chat';
  stopReason: StopReason;
  promptTokens: number;
  /** Prompt tokens found in the KV slot's cache. */
  reusedTokens: number;
  /** Tokens evaluated by prefill. */
  prefillTokens: number;
  prefillMs: number;
  generatedTokens: number;
  decodeMs: number;
  /** Waiting before the first step. */
  queuedMs: number;
  preemptions: number;
}

export interface DebugStateResult {
  /** Jobs waiting, by class. */
  queued: { completion: number; chat: number };
  /** Jobs started and not yet finished (preempted chats included). */
  running: number;
  /** Queue limits, by class. */
  limits: { completion: number; chat: number };
  slots: DebugSlot[];
  /** Entries in the recent-completions cache. */
  completionCacheEntries: number;
  /** Open documents the daemon tracks. */
  documents: number;
  /** The generation running now (null when idle). */
  current: { kind: 'completion' | 'chat'; owner: string; phase: 'prefill' | 'decode'; promptTokens: number; evaluated: number; generated: number } | null;
  /** Figures of the last finished generation (null before any). */
  last: GenerationStats | null;
  /** Totals since start: completions served from the cache, preemptions of chat by completions, requests cancelled, requests refused (queue full). */
  counters: { cacheHits: number; preemptions: number; cancelled: number; refused: number; completed: number };
}

export interface DebugStateParams {
  /** Answer only once no generation is queued or running (tests use this instead of sleeping). */
  waitForIdle?: boolean;
}

/** client → server request: scheduler queues, KV slot ownership and counters (params `{}` for an immediate answer). */
export namespace DebugStateRequest {
  export const method = 'moecode/debug/state' as const;
  export const type = new RequestType<DebugStateParams, DebugStateResult, void>(method);
}
