/**
 * Which model is loaded: the first load at `initialized` (settings pulled then), reloads when
 * `moecode.model.path` or `moecode.gpu.memoryBudget` change (no restart), a switch to or from a remote
 * server when `moecode.remote.*` change (generation-backend.ts), and the explicit
 * `moecode/model/load` / `moecode/model/unload` requests.
 */
import { DidChangeConfigurationNotification } from 'vscode-languageserver/node';
import { ModelLoadRequest, ModelUnloadRequest, type StatusParams } from '../protocol.js';
import type { Feature, ServerContext } from './feature.js';
import { isObject, optionalString } from './validate.js';
import { invalidParams } from './errors.js';

export class ModelFeature implements Feature {
  readonly name = 'model';
  private dynamicConfig = false;

  constructor(
    private readonly ctx: ServerContext,
    /** Tells the other features that settings changed. */
    private readonly onSettingsChanged: () => void,
  ) {
    ctx.connection.onRequest(
      ModelLoadRequest.type,
      ctx.lifecycle.guard(ModelLoadRequest.method, async (params): Promise<StatusParams> => {
        if (params !== undefined && params !== null && !isObject(params)) throw invalidParams('params must be an object');
        const path = optionalString(isObject(params) ? params.path : undefined, 'path');
        ctx.backend.requireLocal();
        return ctx.model.load(await ctx.settings.get(), path);
      }),
    );
    ctx.connection.onRequest(
      ModelUnloadRequest.type,
      ctx.lifecycle.guard0(ModelUnloadRequest.method, async () => {
        await ctx.model.unload();
        return ctx.backend.status;
      }),
    );
    ctx.connection.onDidChangeConfiguration(
      ctx.lifecycle.guardNotification('workspace/didChangeConfiguration', async (params) => {
        ctx.settings.changed(params?.settings);
        this.onSettingsChanged();
        await ctx.backend.apply(await ctx.settings.get());
      }),
    );
  }

  initialize(params: { capabilities: { workspace?: { didChangeConfiguration?: { dynamicRegistration?: boolean } } } }): void {
    this.dynamicConfig = Boolean(params.capabilities.workspace?.didChangeConfiguration?.dynamicRegistration);
  }

  async initialized(): Promise<void> {
    if (this.dynamicConfig) {
      await this.ctx.connection.client.register(DidChangeConfigurationNotification.type, { section: 'moecode' }).catch(() => undefined);
    }
    await this.ctx.backend.apply(await this.ctx.settings.get()); // failures are in the status
  }

  async shutdown(): Promise<void> {
    await this.ctx.model.dispose();
  }
}
