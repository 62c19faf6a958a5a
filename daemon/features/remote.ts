/** The remote server's API key from the editor (`moecode/remote/didChangeApiKey`), and closing the server's probes at shutdown. */
import { RemoteApiKeyNotification } from '../protocol.js';
import type { Feature, ServerContext } from './feature.js';
import { isObject } from './validate.js';

export class RemoteFeature implements Feature {
  readonly name = 'remote';

  constructor(private readonly ctx: ServerContext) {
    ctx.connection.onNotification(
      RemoteApiKeyNotification.type,
      ctx.lifecycle.guardNotification(RemoteApiKeyNotification.method, (params: unknown) => {
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
