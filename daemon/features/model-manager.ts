/**
 * The loaded model and the daemon's status. Loads run one after another and the newest request wins
 * (a model path changed twice during a load loads only the last one). A load hands the new engine to
 * the scheduler, which drops the old engine's jobs before the old engine is disposed. Failures become
 * status `error` with the reason; requests then get a RequestFailed naming it.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { defaultModelPath } from '../cli/default-model.js';
import { Engine } from '../engine/engine.js';
import type { MoecodeSettings, StatusParams } from '../protocol.js';
import type { GenerationOutcome } from '../scheduler/generation-job.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { requestFailed } from './errors.js';
import { planLoad } from './load-plan.js';

export interface ModelManagerOptions {
  scheduler: Scheduler;
  log: (message: string) => void;
  warn: (message: string) => void;
  /** Called on every status change (the status feature throttles and sends). */
  onStatus: (status: StatusParams, urgent: boolean) => void;
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
  private current: StatusParams = { ...INITIAL };
  private chain: Promise<void> = Promise.resolve();
  private wanted = 0;
  /** The path and budget of the loaded (or loading) model, to tell whether a settings change needs a reload. */
  private loadedKey = '';
  private disposed = false;

  constructor(private readonly opts: ModelManagerOptions) {}

  get status(): StatusParams {
    return { ...this.current, memory: this.current.memory ? { ...this.current.memory } : undefined };
  }

  /** Whether these settings name another model (or budget) than the one loaded or loading. */
  needsReload(settings: MoecodeSettings): boolean {
    return this.keyOf(settings) !== this.loadedKey;
  }

  /** Loads the model the settings name (or `explicitPath`); resolves when this load (or a newer one) is done. */
  load(settings: MoecodeSettings, explicitPath?: string): Promise<StatusParams> {
    const seq = ++this.wanted;
    const key = this.keyOf(settings, explicitPath);
    this.loadedKey = key;
    const run = this.chain.then(() => (seq === this.wanted && !this.disposed ? this.doLoad(settings, explicitPath) : undefined));
    this.chain = run.catch(() => undefined);
    return run.then(() => this.status);
  }

  async unload(message?: string): Promise<StatusParams> {
    const seq = ++this.wanted;
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

  /** The engine, or a RequestFailed saying why there is none. */
  requireEngine(): Engine {
    const s = this.current;
    if (this.engine && (s.state === 'ready' || s.state === 'busy')) return this.engine;
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
    const s = this.current.state;
    if (s === 'ready' || s === 'busy') this.update({ ...this.current, state: busy ? 'busy' : 'ready' }, false);
  }

  /** A generation finished: keep its speeds. */
  recordSpeeds(o: GenerationOutcome): void {
    const next = { ...this.current };
    if (o.prefillTokens > 0 && o.prefillMs > 0) next.lastPrefillTokPerSec = round1((o.prefillTokens * 1000) / o.prefillMs);
    if (o.decodeTokens > 0 && o.decodeMs > 0) next.lastDecodeTokPerSec = round1((o.decodeTokens * 1000) / o.decodeMs);
    this.update(next, false);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.wanted++;
    await this.chain;
    await this.dropEngine();
  }

  private keyOf(settings: MoecodeSettings, explicitPath?: string): string {
    return JSON.stringify([explicitPath ?? resolveModelPath(settings).path ?? '', settings.gpu.memoryBudget, settings.gpu.adapter, settings.engine.backend, settings.cpu.threads]);
  }

  private async doLoad(settings: MoecodeSettings, explicitPath?: string): Promise<void> {
    const resolved = explicitPath ? { path: explicitPath, source: 'moecode/model/load' } : resolveModelPath(settings);
    await this.dropEngine();
    const path = resolved.path;
    if (!path) {
      const message = 'No model configured: set moecode.model.path, or the MOECODE_MODEL environment variable, or install the default model.';
      this.update({ ...INITIAL, state: 'error', message }, true);
      throw requestFailed('noModel', message);
    }
    const base: StatusParams = { ...INITIAL, state: 'loading', progress: 0, modelName: basename(path), modelPath: path, message: `loading ${path} (from ${resolved.source})` };
    this.update(base, true);
    this.opts.log(`loading model ${path} (from ${resolved.source})`);
    try {
      if (!existsSync(path)) throw new Error(`model file not found: ${path}`);
      const plan = await planLoad(path, settings.gpu.memoryBudget);
      let lastSent = -1;
      const engine = await Engine.load(path, {
        nSlots: plan.nSlots,
        nCtx: plan.nCtx,
        maxBatch: plan.maxBatch,
        backend: settings.engine.backend,
        threads: settings.cpu.threads,
        gpuOptions: { adapter: settings.gpu.adapter },
        warn: this.opts.warn,
        onProgress: (f) => {
          const pct = Math.floor(f * 100);
          if (pct !== lastSent && pct < 100) {
            lastSent = pct;
            this.update({ ...this.current, progress: pct, message: 'loading weights' }, false);
          }
        },
      });
      if (this.disposed) {
        await engine.dispose();
        return;
      }
      const m = engine.model;
      this.engine = engine;
      await this.opts.scheduler.setEngine(engine);
      const info = m.backendInfo;
      this.update(
        {
          state: 'ready',
          progress: 100,
          modelName: m.name,
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
            budgetBytes: Math.round(settings.gpu.memoryBudget * 1024 * 1024),
            kvSlots: m.nSlots,
            contextLength: m.nCtx,
          },
          lastPrefillTokPerSec: 0,
          lastDecodeTokPerSec: 0,
          message: info.isSoftwareGpu ? `running on a software WebGPU adapter (${info.description}): expect slow suggestions` : undefined,
        },
        true,
      );
      this.opts.log(`model ${m.name} ready on ${info.description} in ${(m.loadMs / 1000).toFixed(1)} s (${m.nSlots} KV slots × ${m.nCtx} tokens)`);
    } catch (e) {
      const message = `Could not load ${path}: ${(e as Error).message}`;
      this.opts.log(message);
      this.update({ ...base, state: 'error', progress: 0, message }, true);
      throw requestFailed('modelError', message);
    }
  }

  private async dropEngine(): Promise<void> {
    const old = this.engine;
    this.engine = undefined;
    await this.opts.scheduler.setEngine(undefined);
    if (old) {
      try {
        await old.dispose();
      } catch (e) {
        this.opts.log(`disposing the model failed: ${(e as Error).message}`);
      }
    }
  }

  private update(next: StatusParams, urgent: boolean): void {
    this.current = next;
    this.opts.onStatus(this.status, urgent);
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
