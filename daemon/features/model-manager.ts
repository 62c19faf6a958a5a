/**
 * The loaded model and the daemon's status. Loads run one after another and the newest request wins
 * (a model path changed twice during a load loads only the last one; a newer request, an unload or
 * shutdown abandons a load in flight). A load first checks the file from its header (load-plan.ts: every
 * problem it has, and whether it fits the memory budget — the setting, or automatic), then builds the
 * new engine while the old one keeps answering (the engine checks again against the backend's limits
 * before it allocates anything, and plans the KV slots × context), and only then hands the new engine to
 * the scheduler (which drops the old engine's jobs) and disposes the old one. When the new model fails, the old one stays loaded and the
 * status says what failed; with no old model the status is `error` and requests get a RequestFailed
 * naming the reason. A load that stops making progress is given up (load-watchdog.ts). Everything a
 * status or log says about a file is bounded and escaped (gguf/untrusted-text.ts).
 */
import { basename } from 'node:path';
import { defaultModelPath } from '../cli/default-model.js';
import { Engine } from '../engine/engine.js';
import { boundedMessage, untrustedText } from '../gguf/untrusted-text.js';
import type { ExpertStatus, MoecodeSettings, StatusParams } from '../protocol.js';
import { expertStatus } from './expert-status.js';
import type { GenerationOutcome } from '../scheduler/generation-job.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { requestFailed } from './errors.js';
import { budgetOf, DEFAULT_MAX_BATCH, DEFAULT_SLOTS, planLoad, type LoadPlan } from './load-plan.js';
import { LoadAbandonedError, loadStallMsFromEnv, watchLoad } from './load-watchdog.js';

export interface ModelManagerOptions {
  scheduler: Scheduler;
  log: (message: string) => void;
  warn: (message: string) => void;
  /** Called on every status change (the status feature throttles and sends). */
  onStatus: (status: StatusParams, urgent: boolean) => void;
  /** Called when another engine (or none) starts answering requests: caches of the old one are stale. */
  onEngineChanged?: () => void;
  /** Longest a load may go without progress before it is given up (default: loadStallMsFromEnv). */
  loadStallMs?: number;
  /** What sets the memory budget, for messages (default "moecode.gpu.memoryBudget"; `moecode serve`: "--gpu-budget"). */
  budgetKnob?: string;
}

/** The model to load: the setting, else MOECODE_MODEL, else the shipped default. */
export function resolveModelPath(settings: MoecodeSettings): { path?: string; source: string } {
  if (settings.model.path) return { path: settings.model.path, source: 'moecode.model.path' };
  if (process.env.MOECODE_MODEL) return { path: process.env.MOECODE_MODEL, source: 'MOECODE_MODEL' };
  const d = defaultModelPath();
  return d ? { path: d, source: 'the default model' } : { source: 'none' };
}

const INITIAL: StatusParams = {
  state: 'unloaded',
  progress: 0,
  modelName: '',
  modelPath: '',
  adapter: '',
  backend: '',
  threads: 0,
  isSoftwareFallback: false,
  lastPrefillTokPerSec: 0,
  lastDecodeTokPerSec: 0,
};

export class ModelManager {
  private engine: Engine | undefined;
  /** The status of the engine answering requests (what a failed load falls back to). */
  private serving: StatusParams | undefined;
  private current: StatusParams = { ...INITIAL };
  private chain: Promise<void> = Promise.resolve();
  private wanted = 0;
  /** The path and budget of the loaded (or loading) model, to tell whether a settings change needs a reload. */
  private loadedKey = '';
  private disposed = false;
  private busy = false;
  /** Aborts the load in flight (its watchdog stops waiting for it). */
  private inFlight: AbortController | undefined;
  private readonly loadStallMs: number;

  constructor(private readonly opts: ModelManagerOptions) {
    this.loadStallMs = opts.loadStallMs ?? loadStallMsFromEnv(opts.warn);
  }

  get status(): StatusParams {
    return { ...this.current, memory: this.current.memory ? { ...this.current.memory } : undefined, experts: this.current.experts ? { ...this.current.experts } : undefined };
  }

  /** Whether these settings name another model (or budget) than the one loaded or loading. */
  needsReload(settings: MoecodeSettings): boolean {
    return this.keyOf(settings) !== this.loadedKey;
  }

  /** Loads the model the settings name (or `explicitPath`); resolves when this load (or a newer one) is done. */
  load(settings: MoecodeSettings, explicitPath?: string): Promise<StatusParams> {
    const seq = this.supersede();
    const key = this.keyOf(settings, explicitPath);
    this.loadedKey = key;
    const run = this.chain.then(() => (seq === this.wanted && !this.disposed ? this.doLoad(settings, explicitPath) : undefined));
    this.chain = run.catch(() => undefined);
    // a load skipped or abandoned for a newer one answers with the newer one's outcome
    return run.then(async () => {
      if (seq !== this.wanted) await this.idle();
      return this.status;
    });
  }

  /** Resolves once no load or unload is queued or running. */
  private async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.chain;
      await seen;
    } while (seen !== this.chain);
  }

  async unload(message?: string): Promise<StatusParams> {
    const seq = this.supersede();
    this.loadedKey = '';
    const run = this.chain.then(async () => {
      if (seq !== this.wanted) return;
      await this.dropEngine();
      this.update({ ...INITIAL, lastPrefillTokPerSec: 0, lastDecodeTokPerSec: 0, message: message ?? 'the model was unloaded' }, true);
    });
    this.chain = run.catch(() => undefined);
    await run;
    return this.status;
  }

  /** The engine answering requests (during a load, the old one), or a RequestFailed saying why there is none. */
  requireEngine(): Engine {
    if (this.engine) return this.engine;
    const s = this.current;
    switch (s.state) {
      case 'loading':
        throw requestFailed('modelLoading', `the model is still loading (${Math.round(s.progress)}%)`);
      case 'error':
        throw requestFailed(s.modelPath ? 'modelError' : 'noModel', s.message ?? 'the model could not be loaded');
      default:
        throw requestFailed('noModel', s.message ?? 'no model is loaded');
    }
  }

  /** The scheduler went busy or idle. */
  setBusy(busy: boolean): void {
    this.busy = busy;
    const s = this.current.state;
    if (s === 'ready' || s === 'busy') this.update({ ...this.current, state: busy ? 'busy' : 'ready' }, false);
  }

  /** A generation finished: keep its speeds. */
  recordSpeeds(o: GenerationOutcome): void {
    const next = { ...this.current };
    if (o.prefillTokens > 0 && o.prefillMs > 0) next.lastPrefillTokPerSec = round1((o.prefillTokens * 1000) / o.prefillMs);
    if (o.decodeTokens > 0 && o.decodeMs > 0) next.lastDecodeTokPerSec = round1((o.decodeTokens * 1000) / o.decodeMs);
    const experts: ExpertStatus | undefined = this.engine ? expertStatus(this.engine.model) : undefined;
    if (experts && this.serving) next.experts = this.serving.experts = experts;
    this.update(next, false);
  }

  /** Stops loading (a load in flight is abandoned, not awaited) and disposes the engine. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.supersede();
    await this.chain;
    await this.dropEngine();
  }

  /** A newer request: queued loads are skipped and the one in flight is abandoned. */
  private supersede(): number {
    this.inFlight?.abort();
    return ++this.wanted;
  }

  private keyOf(settings: MoecodeSettings, explicitPath?: string): string {
    const e = settings.engine;
    return JSON.stringify([explicitPath ?? resolveModelPath(settings).path ?? '', settings.gpu.memoryBudget, settings.gpu.adapter, e.backend, e.kvCacheType, e.contextLength, settings.cpu.threads]);
  }

  private async doLoad(settings: MoecodeSettings, explicitPath?: string): Promise<void> {
    const resolved = explicitPath ? { path: explicitPath, source: 'moecode/model/load' } : resolveModelPath(settings);
    const path = resolved.path;
    if (!path) {
      this.failLoad(settings, undefined, 'No model configured: set moecode.model.path, or the MOECODE_MODEL environment variable, or install the default model.');
    }
    const shownPath = untrustedText(path, 1000);
    const previousName = this.serving?.modelName;
    const base: StatusParams = {
      ...INITIAL,
      state: 'loading',
      progress: 0,
      modelName: untrustedText(basename(path)),
      modelPath: path,
      message: `loading ${shownPath} (from ${resolved.source})${previousName ? `; ${previousName} answers meanwhile` : ''}`,
    };
    this.update(base, true);
    this.opts.log(`loading model ${shownPath} (from ${resolved.source})`);
    const abort = new AbortController();
    this.inFlight = abort;
    let engine: Engine;
    try {
      engine = await watchLoad((progress) => this.buildEngine(path, settings, abort.signal, progress), {
        stallMs: this.loadStallMs,
        signal: abort.signal,
        onLate: (late) => {
          if ('error' in late) {
            this.opts.log(`a load of ${shownPath} that was given up has ended: ${boundedMessage(late.error.message)}`);
            return;
          }
          this.opts.log(`a load of ${shownPath} that was given up has ended: its engine is disposed`);
          late.value.dispose().catch((e: unknown) => this.opts.log(`disposing it failed: ${boundedMessage(String(e))}`));
        },
      });
    } catch (e) {
      abort.abort(); // a stalled load that wakes up later must not touch the status or the engines
      if (e instanceof LoadAbandonedError) {
        this.opts.log(`the load of ${shownPath} was abandoned for a newer request`);
        if (!this.disposed) this.restoreServing(undefined);
        return;
      }
      this.failLoad(settings, path, `Could not load ${shownPath}: ${boundedMessage((e as Error).message)}`);
    } finally {
      if (this.inFlight === abort) this.inFlight = undefined;
    }
    if (this.disposed) {
      await engine.dispose();
      return;
    }
    await this.swapTo(engine, path, settings);
  }

  /**
   * The header checks (planLoad: every problem of the file, and the budget, counting the old model's
   * memory as free), then the engine; when the budget cannot hold both models the old one is unloaded first.
   */
  private async buildEngine(path: string, settings: MoecodeSettings, signal: AbortSignal, progress: () => void): Promise<Engine> {
    const knob = this.opts.budgetKnob ?? 'moecode.gpu.memoryBudget';
    const old = this.engine?.model.memory.total ?? 0;
    const plan: LoadPlan = await planLoad(path, settings, { knob, reclaimableBytes: old, autoResolvedTo: this.engine?.model.backendInfo.kind });
    progress();
    if (signal.aborted) throw new LoadAbandonedError('abandoned before the weights were loaded');
    if (this.engine) {
      // an explicit budget holds both models; the automatic one already counts the old model as used
      const now = budgetOf(settings, knob, plan.weightsBytes);
      if (plan.totalBytes + (now.explicit ? old : 0) > now.bytes) {
        this.opts.log(`the previous model is unloaded first: both would exceed the memory budget (${now.source}, ${Math.round(now.bytes / 1048576)} MB)`);
        await this.dropEngine();
        if (signal.aborted) throw new LoadAbandonedError('abandoned while the previous model was unloaded');
      }
    }
    let lastSent = -1;
    return Engine.load(path, {
      nSlots: DEFAULT_SLOTS,
      minSlots: 1,
      nCtx: settings.engine.contextLength,
      maxBatch: DEFAULT_MAX_BATCH,
      kvType: settings.engine.kvCacheType,
      memoryBudget: budgetBytes(settings),
      budgetKnob: knob,
      backend: settings.engine.backend,
      threads: settings.cpu.threads,
      gpuOptions: { adapter: settings.gpu.adapter },
      warn: (m) => this.opts.warn(boundedMessage(m)),
      onProgress: (f) => {
        if (signal.aborted) return;
        progress();
        const pct = Math.floor(f * 100);
        if (pct !== lastSent && pct < 100) {
          lastSent = pct;
          const meanwhile = this.serving ? `; ${this.serving.modelName} answers meanwhile` : '';
          this.update({ ...this.current, progress: pct, message: `loading weights${meanwhile}` }, false);
        }
      },
    });
  }

  /** The new engine answers from now on; the old one is disposed. */
  private async swapTo(engine: Engine, path: string, settings: MoecodeSettings): Promise<void> {
    const previous = this.engine;
    this.engine = engine;
    await this.opts.scheduler.setEngine(engine);
    this.opts.onEngineChanged?.();
    if (previous) await this.disposeQuietly(previous);
    const m = engine.model;
    const info = m.backendInfo;
    const name = untrustedText(m.name);
    this.serving = {
      state: this.busy ? 'busy' : 'ready',
      progress: 100,
      modelName: name,
      modelPath: path,
      adapter: info.description,
      backend: info.kind,
      threads: info.threads ?? 0,
      isSoftwareFallback: info.isSoftwareGpu,
      memory: {
        weightsBytes: m.memory.weights,
        kvCacheBytes: m.memory.kvCache,
        activationsBytes: m.memory.activations,
        totalBytes: m.memory.total,
        budgetBytes: m.fit.budget.bytes,
        budgetSource: m.fit.budget.source,
        kvCacheType: m.fit.kvType,
        kvSlots: m.nSlots,
        contextLength: m.nCtx,
      },
      experts: expertStatus(m),
      lastPrefillTokPerSec: 0,
      lastDecodeTokPerSec: 0,
      message: info.isSoftwareGpu ? `running on a software WebGPU adapter (${info.description}): expect slow suggestions` : undefined,
    };
    this.update({ ...this.serving }, true);
    this.opts.log(
      `model ${name} ready on ${info.description} in ${(m.loadMs / 1000).toFixed(1)} s (${m.nSlots} KV slots × ${m.nCtx} tokens, ${m.fit.kvType} KV cache; ` +
        `${Math.round(m.memory.total / 1048576)} MB of a ${Math.round(m.fit.budget.bytes / 1048576)} MB budget, ${m.fit.budget.source})`,
    );
    for (const note of m.fit.notes) this.opts.log(`  ${note}`);
  }

  /**
   * A load failed: the model that was answering keeps answering (unless it alone breaks the memory
   * budget now), and the status says what failed; with none, the status is `error`.
   */
  private failLoad(settings: MoecodeSettings, path: string | undefined, message: string): never {
    this.opts.log(message);
    const budget = budgetBytes(settings);
    const keep = this.engine && this.serving && !(budget > 0 && this.engine.model.memory.total > budget);
    if (keep) {
      this.restoreServing(`${message} Still using ${this.serving!.modelName}.`);
    } else {
      if (this.engine) this.dropEngine().catch((e: unknown) => this.opts.log(`unloading the previous model failed: ${boundedMessage(String(e))}`));
      this.update({ ...INITIAL, state: 'error', modelName: path ? untrustedText(basename(path)) : '', modelPath: path ?? '', message }, true);
    }
    throw requestFailed(path ? 'modelError' : 'noModel', message);
  }

  /** Back to the status of the engine that answers (or `unloaded` without one), with `message`. */
  private restoreServing(message: string | undefined): void {
    if (this.engine && this.serving) {
      this.update({ ...this.current, ...this.serving, state: this.busy ? 'busy' : 'ready', lastPrefillTokPerSec: this.current.lastPrefillTokPerSec, lastDecodeTokPerSec: this.current.lastDecodeTokPerSec, message: message ?? this.serving.message }, true);
    } else if (message) {
      this.update({ ...INITIAL, state: 'error', message }, true);
    } else {
      this.update({ ...INITIAL }, true);
    }
  }

  private async dropEngine(): Promise<void> {
    const old = this.engine;
    this.engine = undefined;
    this.serving = undefined;
    await this.opts.scheduler.setEngine(undefined);
    if (old) {
      this.opts.onEngineChanged?.();
      await this.disposeQuietly(old);
    }
  }

  private async disposeQuietly(engine: Engine): Promise<void> {
    try {
      await engine.dispose();
    } catch (e) {
      this.opts.log(`disposing the model failed: ${boundedMessage((e as Error).message)}`);
    }
  }

  private update(next: StatusParams, urgent: boolean): void {
    this.current = next;
    this.opts.onStatus(this.status, urgent);
  }
}

function budgetBytes(settings: MoecodeSettings): number {
  return Math.round(settings.gpu.memoryBudget * 1024 * 1024);
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
