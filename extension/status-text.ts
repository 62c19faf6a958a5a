/** The status bar's words for each daemon state. Pure (no `vscode`): tested in test/editor/status-text.test.ts. */
import type { ExpertStatus, RemoteStatus, StatusParams } from '../daemon/protocol';

export type DaemonRunState = 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';

/** Text and tooltip of the main item for a daemon status (pure, so tests can check every state). */
export function describeStatus(status: StatusParams | undefined, runState: DaemonRunState): { text: string; tooltip: string; severity: 'ok' | 'warning' | 'error' } {
  if (runState === 'failed') return { text: '$(error) MoeCode: daemon stopped', tooltip: 'The MoeCode daemon is not running. Click for actions (Show Daemon Log).', severity: 'error' };
  if (runState === 'restarting') return { text: '$(sync~spin) MoeCode: restarting', tooltip: 'The daemon stopped unexpectedly and is being restarted.', severity: 'warning' };
  if (!status) return { text: '$(sync~spin) MoeCode: starting', tooltip: 'Starting the MoeCode daemon…', severity: 'ok' };
  if (status.remote) return describeRemote(status, status.remote);
  const name = status.modelName || 'no model';
  const adapter = status.adapter ? `${status.adapter}${status.isSoftwareFallback ? ' — software (CPU) fallback, slow' : ''}` : 'no adapter yet';
  const speed = status.lastDecodeTokPerSec > 0 ? `${status.lastDecodeTokPerSec.toFixed(1)} tok/s` : '';
  // where the model runs: the CPU backend with its threads, or a software WebGPU adapter (slow)
  const cpu = status.backend === 'cpu' ? ` · CPU ×${status.threads}` : status.isSoftwareFallback ? ' $(warning) CPU' : '';
  const mem = status.memory ? `\nGPU memory: ${(status.memory.totalBytes / 2 ** 20).toFixed(0)} MB${status.memory.budgetBytes ? ` of ${(status.memory.budgetBytes / 2 ** 20).toFixed(0)} MB budget` : ''}` : '';
  // experts split between GPU and host: the share on the GPU and the expert cache's hit rate
  const ex = status.experts && status.experts.onGpu < status.experts.total ? ` · ${expertsText(status.experts)}` : '';
  const exTip = status.experts ? `\n${expertsTooltip(status.experts)}` : '';
  const tooltip = `MoeCode — ${name}\nState: ${status.state}${status.message ? ` (${status.message})` : ''}\n${status.backend === 'cpu' ? 'Backend' : 'Adapter'}: ${adapter}${speed ? `\nLast decode: ${speed}` : ''}${status.lastPrefillTokPerSec > 0 ? `\nLast prefill: ${status.lastPrefillTokPerSec.toFixed(1)} tok/s` : ''}${mem}${exTip}\n\nClick for MoeCode actions.`;
  switch (status.state) {
    case 'loading':
      return { text: `$(sync~spin) ${name}: loading ${Math.round(status.progress)}%`, tooltip, severity: 'ok' };
    case 'busy':
      return { text: `$(loading~spin) ${name}: generating${cpu}${ex}`, tooltip, severity: status.isSoftwareFallback ? 'warning' : 'ok' };
    case 'error':
      return { text: `$(error) ${name}: error`, tooltip, severity: 'error' };
    case 'unloaded':
      return { text: '$(circle-slash) MoeCode: no model', tooltip, severity: 'warning' };
    case 'ready':
      return { text: `$(check) ${name}: ready${cpu}${ex}${speed ? ` · ${speed}` : ''}`, tooltip, severity: status.isSoftwareFallback ? 'warning' : 'ok' };
  }
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** `experts 38% on GPU · hit 91%` */
function expertsText(e: ExpertStatus): string {
  return `experts ${pct(e.total ? e.onGpu / e.total : 1)} on GPU · hit ${pct(e.hitRate)}`;
}

function expertsTooltip(e: ExpertStatus): string {
  if (e.onGpu >= e.total) return `Experts: all ${e.total} on the GPU`;
  const mib = e.uploadedBytesPerToken / 2 ** 20;
  return (
    `Experts: ${e.onGpu} of ${e.total} on the GPU (${pct(e.onGpu / e.total)}), the others in host memory; ` +
    `expert cache hit ${pct(e.hitRate)}${e.prefetchAccuracy !== undefined ? `, prefetch accuracy ${pct(e.prefetchAccuracy)}` : ''}, ${mib.toFixed(mib < 10 ? 2 : 0)} MiB uploaded per token`
  );
}

/** host:port of a URL, for the status bar (the whole string when it does not parse). */
function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

const FIM_WORDS: Record<string, string> = { infill: "the server's /infill", suffix: "the server's `suffix` support", '': 'not known yet' };

/** The main item while a remote server (moecode.remote.url) generates: its host, model and health. */
function describeRemote(status: StatusParams, r: RemoteStatus): { text: string; tooltip: string; severity: 'ok' | 'warning' | 'error' } {
  const host = hostOf(r.url);
  const speed = status.lastDecodeTokPerSec > 0 ? `${status.lastDecodeTokPerSec.toFixed(1)} tok/s` : '';
  const lines = [
    `MoeCode — remote server ${r.url}`,
    `Model: ${r.model || 'not known yet'}`,
    `State: ${r.state}${r.message ? ` (${r.message})` : ''}`,
    `Inline completions: ${FIM_WORDS[r.fim] ?? `${r.fim} FIM template`}`,
    ...(speed ? [`Last decode: ${speed}`] : []),
    ...(r.state === 'unauthorized' ? ['Set the key with "MoeCode: Set Remote API Key…".'] : []),
    ...(r.state === 'unreachable' ? ['MoeCode keeps trying and recovers by itself when the server is back.'] : []),
  ];
  const tooltip = `${lines.join('\n')}\n\nClick for MoeCode actions.`;
  const name = r.model || host;
  switch (r.state) {
    case 'connecting':
      return { text: `$(sync~spin) MoeCode: connecting to ${host}`, tooltip, severity: 'ok' };
    case 'unreachable':
      return { text: `$(debug-disconnect) MoeCode: ${host} unreachable`, tooltip, severity: 'error' };
    case 'unauthorized':
      return { text: `$(key) MoeCode: ${host} refused the API key`, tooltip, severity: 'error' };
    case 'error':
      return { text: `$(error) MoeCode: ${host} error`, tooltip, severity: 'error' };
    case 'ok':
      return status.state === 'busy'
        ? { text: `$(loading~spin) ${name}: generating`, tooltip, severity: 'ok' }
        : { text: `$(cloud) ${name}: ready${speed ? ` · ${speed}` : ''}`, tooltip, severity: 'ok' };
  }
}
