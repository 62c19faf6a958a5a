/**
 * The line the chat panel shows above the conversation while the daemon or its model (local or remote) cannot
 * answer, or answers slowly: pure, so it is tested in plain Node. undefined: nothing to say.
 */
import type { RemoteStatus, StatusParams } from '../../daemon/protocol';
import type { DaemonRunState } from '../status-text';

export function chatNotice(run: DaemonRunState, s: StatusParams | undefined): string | undefined {
  if (run === 'failed') return 'The MoeCode daemon is not running. Run "MoeCode: Show Daemon Log" to see why.';
  if (run === 'restarting') return 'The MoeCode daemon is restarting…';
  if (!s) return run === 'starting' ? 'Starting the MoeCode daemon…' : undefined;
  if (s.remote) return remoteNotice(s.remote);
  switch (s.state) {
    case 'loading':
      return `Loading ${s.modelName || 'the model'}… ${Math.round(s.progress)}%`;
    case 'error':
      return `The model could not be loaded: ${s.message ?? 'unknown error'}. Use "MoeCode: Select Model" to pick another.`;
    case 'unloaded':
      return 'No model is loaded. Use "MoeCode: Select Model" to pick one.';
    default:
      return s.isSoftwareFallback ? `Running on a software GPU (${s.adapter}): answers will be slow.` : undefined;
  }
}

/** While the chat goes to a remote server (moecode.remote.url): nothing when it answers, else why not and what to do. */
function remoteNotice(r: RemoteStatus): string | undefined {
  const why = r.message ? `: ${r.message}` : '';
  switch (r.state) {
    case 'ok':
      return undefined;
    case 'connecting':
      return `Connecting to the remote server ${r.url}…`;
    case 'unreachable':
      return `The remote server ${r.url} cannot be reached${why}. MoeCode keeps trying and goes on by itself when it is back; check the server or the "moecode.remote.url" setting.`;
    case 'unauthorized':
      return `The remote server ${r.url} refused the API key${why}. Use "MoeCode: Set Remote API Key…".`;
    case 'error':
      return `The remote server ${r.url} answered with an error${why}.`;
  }
}
