/** The status bar's words for each daemon state. Pure (no `vscode`): tested in test/editor/status-text.test.ts. */
import type { StatusParams } from '../daemon/protocol';

export type DaemonRunState = 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';

/** Text and tooltip of the main item for a daemon status (pure, so tests can check every state). */
export function describeStatus(status: StatusParams | undefined, runState: DaemonRunState): { text: string; tooltip: string; severity: 'ok' | 'warning' | 'error' } {
  if (runState === 'failed') return { text: '$(error) MoeCode: daemon stopped', tooltip: 'The MoeCode daemon is not running. Click for actions (Show Daemon Log).', severity: 'error' };
  if (runState === 'restarting') return { text: '$(sync~spin) MoeCode: restarting', tooltip: 'The daemon stopped unexpectedly and is being restarted.', severity: 'warning' };
  if (!status) return { text: '$(sync~spin) MoeCode: starting', tooltip: 'Starting the MoeCode daemon…', severity: 'ok' };
  const name = status.modelName || 'no model';
  const adapter = status.adapter ? `${status.adapter}${status.isSoftwareFallback ? ' — software (CPU) fallback, slow' : ''}` : 'no adapter yet';
  const speed = status.lastDecodeTokPerSec > 0 ? `${status.lastDecodeTokPerSec.toFixed(1)} tok/s` : '';
  // where the model runs: the CPU backend with its threads, or a software WebGPU adapter (slow)
  const cpu = status.backend === 'cpu' ? ` · CPU ×${status.threads}` : status.isSoftwareFallback ? ' $(warning) CPU' : '';
  const mem = status.memory ? `\nGPU memory: ${(status.memory.totalBytes / 2 ** 20).toFixed(0)} MB${status.memory.budgetBytes ? ` of ${(status.memory.budgetBytes / 2 ** 20).toFixed(0)} MB budget` : ''}` : '';
  const tooltip = `MoeCode — ${name}\nState: ${status.state}${status.message ? ` (${status.message})` : ''}\n${status.backend === 'cpu' ? 'Backend' : 'Adapter'}: ${adapter}${speed ? `\nLast decode: ${speed}` : ''}${status.lastPrefillTokPerSec > 0 ? `\nLast prefill: ${status.lastPrefillTokPerSec.toFixed(1)} tok/s` : ''}${mem}\n\nClick for MoeCode actions.`;
  switch (status.state) {
    case 'loading':
      return { text: `$(sync~spin) ${name}: loading ${Math.round(status.progress)}%`, tooltip, severity: 'ok' };
    case 'busy':
      return { text: `$(loading~spin) ${name}: generating${cpu}`, tooltip, severity: status.isSoftwareFallback ? 'warning' : 'ok' };
    case 'error':
      return { text: `$(error) ${name}: error`, tooltip, severity: 'error' };
    case 'unloaded':
      return { text: '$(circle-slash) MoeCode: no model', tooltip, severity: 'warning' };
    case 'ready':
      return { text: `$(check) ${name}: ready${cpu}${speed ? ` · ${speed}` : ''}`, tooltip, severity: status.isSoftwareFallback ? 'warning' : 'ok' };
  }
}
