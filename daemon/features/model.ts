/**
 * Which model is loaded: the first load at `initialized` (settings pulled then), reloads when
 * `moecode.model.path` or `moecode.gpu.memoryBudget` change (no restart), and the explicit
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
        return ctx.model.load(await ctx.settings.get(), path);
      }),
    );
    ctx.connection.onRequest(
      ModelUnloadRequest.type,
      ctx.lifecycle.guard0(ModelUnloadRequest.method, () => ctx.model.unload()),
    );
    ctx.connection.onDidChangeConfiguration(
      ctx.lifecycle.guardNotification('workspace/didChangeConfiguration', async (params) => {
        ctx.settings.changed(params?.settings);
        this.onSettingsChanged();
        const settings = await ctx.settings.get();
        if (ctx.model.needsReload(settings)) {
          ctx.logger.info('model settings changed: reloading');
          await ctx.model.load(settings).catch(() => undefined); // the status says why
        }
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
    const settings = await this.ctx.settings.get();
    await this.ctx.model.load(settings).catch(() => undefined); // failures are in the status
  }

  async shutdown(): Promise<void> {
    await this.ctx.model.dispose();
  }
}
