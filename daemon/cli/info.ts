/**
 * `moecode info <model.gguf> [--json]`: what a GGUF is (architecture, sizes, parameters, tensor types),
 * where it would run, the plan the daemon would load it with (slots × context, KV cache, budget), and
 * EVERY problem that keeps it from running on that backend (model/model-check.ts), not only the first.
 * Exits 1 when there is any (after printing the report), 0 when the model can run.
 */
import { basename } from 'node:path';
import { anyBackendLimits, memoryBudget } from '../model/memory-budget.js';
import { cpuLimits, gpuLimits } from '../engine/backend-limits.js';
import type { GgufFile } from '../gguf/gguf-reader.js';
import { escapeControlCharacters, terminalSafeJson, untrustedText } from '../gguf/untrusted-text.js';
import { createGpu, describeGpu, type GpuInfo } from '../gpu/device.js';
import { DEFAULT_MAX_BATCH, DEFAULT_SLOTS, planFit, type BackendLimits, type FitPlan } from '../model/fit-plan.js';
import { formatMemoryPlan, residentWeightBytes, weightBytesByClass, type MemoryPlan } from '../model/memory-plan.js';
import { checkModel } from '../model/model-check.js';
import type { ModelProblem } from '../model/model-problems.js';
import { describeBackendPlan } from './backend-plan.js';
import { BUDGET_FLAG, type EngineFlags } from './engine-flags.js';
import { countParams, formatCount, tensorTypeCounts } from './model-info.js';
import { describePlacement } from './placement-info.js';

const MiB = 1024 * 1024;
const mb = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

export interface InfoReport {
  text: string;
  json: string;
  problems: ModelProblem[];
}

/** Probes the GPU unless the CPU backend was chosen; undefined when there is no adapter. */
async function probeGpu(flags: EngineFlags): Promise<GpuInfo | undefined> {
  if (flags.backend === 'cpu') return undefined;
  try {
    const g = await createGpu();
    const info = g.info;
    g.destroy();
    return info;
  } catch {
    return undefined;
  }
}

export async function infoReport(path: string, file: GgufFile, flags: EngineFlags): Promise<InfoReport> {
  const structural = checkModel(file);
  const cfg = structural.config;
  const gpu = await probeGpu(flags);
  const runsOn = describeBackendPlan(flags.backend, gpu, flags.threads);
  const backend = runsOn.kind === 'none' ? undefined : runsOn.kind;
  // tensor types against the kernels of the backend that would run it; the rest as found without one
  const forBackend = backend && cfg ? checkModel(file, { backend, tokenizer: false }) : undefined;
  const problems = forBackend ? [...structural.problems.filter((p) => p.kind !== 'tensor-type'), ...forBackend.problems.filter((p) => p.kind === 'tensor-type')] : [...structural.problems];
  if (runsOn.kind === 'none') problems.push({ kind: 'file', code: 'BAD_ARGUMENT', message: runsOn.description });

  const budget = memoryBudget(flags.memoryBudget, BUDGET_FLAG, structural.weightBytes);
  // where the weights would live on the GPU backend under the budget (experts beyond it in host memory):
  // for a model that is otherwise sound (its types known, its shapes right)
  const placement = flags.backend === 'cpu' || !cfg || problems.length > 0 ? undefined : describePlacement(file, cfg, gpu, gpu?.maxStorageBufferBindingSize ?? 0, flags.memoryBudget || undefined);
  let limits: BackendLimits = anyBackendLimits(budget);
  if (backend === 'gpu' && gpu) limits = gpuLimits({ info: gpu }, budget, cfg && structural.weights ? { cfg, weights: structural.weights } : undefined);
  else if (backend === 'cpu' && structural.weights && cfg) limits = cpuLimits(cfg, structural.weights, structural.weightBytes, flags.threads, budget);
  let plan: FitPlan | undefined;
  if (cfg) {
    const fit = planFit(cfg, residentWeightBytes(file, backend ?? 'any'), limits, { nCtx: flags.contextLength, maxSlots: DEFAULT_SLOTS, minSlots: 1, maxBatch: DEFAULT_MAX_BATCH, allLogits: false, kvType: flags.kvType });
    if (fit.ok) plan = fit.plan;
    else problems.push(...fit.problems);
  }

  const { byClass, weights, largest } = weightBytesByClass(file);
  const memory: MemoryPlan = {
    byClass,
    weights,
    kvCache: plan?.kvBytes ?? 0,
    activations: plan?.activationBytes ?? 0,
    total: plan?.totalBytes ?? weights,
    largestTensor: largest,
    maxBindingBytes: gpu ? gpu.maxStorageBufferBindingSize : 0,
    maxBufferSize: gpu?.maxBufferSize ?? 0,
  };
  const params = cfg ? countParams(file, cfg) : undefined;
  const types = tensorTypeCounts(file);
  const json = terminalSafeJson(
    JSON.stringify(
      {
        path,
        gguf_version: file.version,
        bytes: file.totalSize,
        files: file.parts.map((p) => ({ path: p.path, bytes: p.fileSize })),
        architecture: typeof file.metadata.get('general.architecture') === 'string' ? file.metadata.get('general.architecture') : null,
        runnable: problems.length === 0,
        problems,
        notes: structural.notes,
        config: cfg ?? null,
        params: params ?? null,
        tensor_types: types,
        plan: plan ?? null,
        memory,
        gpu: gpu ?? null,
        backend: runsOn,
        placement: placement ? ('error' in placement ? { error: placement.error } : placement.placement) : null,
      },
      null,
      2,
    ),
  );

  const lines: string[] = [];
  const arch = file.metadata.get('general.architecture');
  // names come from the file: no control character of them reaches the terminal
  const generalName = file.metadata.get('general.name');
  lines.push(`${untrustedText(cfg?.name ?? (typeof generalName === 'string' ? generalName : basename(path)))}  (${escapeControlCharacters(path)})`);
  lines.push(`architecture   ${cfg ? cfg.arch : untrustedText(typeof arch === 'string' ? arch : '(none)')}, GGUF v${file.version}`);
  lines.push(`file size      ${(file.totalSize / MiB).toFixed(1)} MiB${file.parts.length > 1 ? ` in ${file.parts.length} split parts` : ''}`);
  if (cfg) {
    lines.push(`layers ${cfg.n_layer}, n_embd ${cfg.n_embd}, heads ${cfg.n_head} (kv ${cfg.n_head_kv}), head dim ${cfg.n_embd_head_k}, context ${cfg.n_ctx_train}, vocab ${cfg.n_vocab}`);
    if (cfg.n_expert > 0) lines.push(`experts        ${cfg.n_expert}, ${cfg.n_expert_used} used per token, width ${cfg.n_ff_exp}${cfg.n_ff_shexp ? `, shared expert width ${cfg.n_ff_shexp}` : ''}`);
    else lines.push(`dense FFN      width ${cfg.n_ff}`);
  }
  if (params) lines.push(`parameters     ${formatCount(params.total)} total, ${formatCount(params.activePerToken)} active per token`);
  lines.push(`tensor types   ${escapeControlCharacters(Object.entries(types).map(([k, v]) => `${k} x${v}`).join(', '))}`);
  lines.push(`gpu            ${gpu ? describeGpu(gpu) : flags.backend === 'cpu' ? 'not probed (--backend cpu)' : 'no WebGPU adapter available'}`);
  lines.push(`backend        ${runsOn.description}`);
  if (plan) {
    lines.push(
      `plan           ${plan.nSlots} KV slot${plan.nSlots === 1 ? '' : 's'} × ${plan.nCtx} tokens (${flags.contextLength ? `--ctx ${flags.contextLength}` : 'automatic context'}), KV cache ${plan.kvType} ${mb(plan.kvBytes)}; ` +
        `budget ${mb(plan.budget.bytes)} (${plan.budget.source})`,
    );
    for (const n of plan.notes) lines.push(`               ${n}`);
  }
  lines.push(formatMemoryPlan(memory, gpu));
  if (placement) lines.push('error' in placement ? `placement      ${placement.error}` : placement.text);
  if (placement && runsOn.kind === 'cpu') lines.push('  (the placement of the GPU backend, which --backend gpu selects; the CPU backend keeps every weight in host memory)');
  for (const n of structural.notes) lines.push(`note           ${n}`);
  if (problems.length > 0) {
    lines.push(`cannot run: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    for (const p of problems) lines.push(`  - [${p.kind}] ${escapeControlCharacters(p.message)}`);
  } else lines.push('runs: no problem found');
  return { text: lines.join('\n'), json, problems };
}
