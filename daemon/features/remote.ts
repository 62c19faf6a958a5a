/** The remote server's API key from the editor (`moecode/remote/didChangeApiKey`), and closing the server's probes at shutdown. */
import { RemoteApiKeyNotification } from '../protocol.js';
import { KEY_SEAL_ENV, unsealApiKey } from '../remote/api-key-seal.js';
import type { Feature, ServerContext } from './feature.js';
import { isObject } from './validate.js';

export class RemoteFeature implements Feature {
  readonly name = 'remote';

  constructor(private readonly ctx: ServerContext) {
    ctx.connection.onNotification(
      RemoteApiKeyNotification.type,
      ctx.lifecycle.guardNotification(RemoteApiKeyNotification.method, (params: unknown) => {
        const sealed = isObject(params) ? params.sealedApiKey : undefined;
        if (sealed !== undefined) {
          const secret = process.env[KEY_SEAL_ENV];
          if (typeof sealed !== 'string' || !secret) {
            ctx.logger.warn(`${RemoteApiKeyNotification.method}: ${typeof sealed !== 'string' ? 'sealedApiKey must be a string' : `a sealed key needs ${KEY_SEAL_ENV} in the daemon's environment`}; ignored`);
            return;
          }
          try {
            ctx.backend.setApiKey(unsealApiKey(sealed, secret) || null);
          } catch (e) {
            ctx.logger.warn(`${RemoteApiKeyNotification.method}: ${e instanceof Error ? e.message : String(e)}; ignored`);
          }
          return;
        }
        const key = isObject(params) ? params.apiKey : undefined;
        if (key !== null && typeof key !== 'string') {
          ctx.logger.warn(`${RemoteApiKeyNotification.method}: apiKey must be a string or null; ignored`);
          return;
        }
        ctx.backend.setApiKey(key);
      }),
    );
  }

  shutdown(): void {
    this.ctx.backend.dispose();
  }
}
