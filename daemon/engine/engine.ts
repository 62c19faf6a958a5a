/**
 * The inference engine as the CLI and the daemon use it: a loaded model, its tokenizer and chat
 * template, and sessions over its KV slots.
 */
import { Model, type LoadOptions } from './model.js';
import { Session } from './session.js';
import { chatTemplateFromGguf, tokenizerDataFromGguf } from './tokenizer/gguf-adapter.js';
import { Tokenizer } from './tokenizer/tokenizer.js';

export class Engine {
  private readonly sessions: (Session | undefined)[];

  private constructor(
    readonly model: Model,
    readonly tokenizer: Tokenizer,
    readonly chatTemplate: string | undefined,
  ) {
    this.sessions = new Array(model.nSlots).fill(undefined);
  }

  static async load(path: string, opts: LoadOptions & { warn?: (msg: string) => void } = {}): Promise<Engine> {
    const model = await Model.load(path, opts);
    try {
      const tokenizer = Tokenizer.fromData(tokenizerDataFromGguf(model.file.metadata), { warn: opts.warn });
      if (tokenizer.vocabSize !== model.cfg.n_vocab) {
        throw new Error(`the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${model.cfg.n_vocab}`);
      }
      return new Engine(model, tokenizer, chatTemplateFromGguf(model.file.metadata));
    } catch (e) {
      await model.dispose();
      throw e;
    }
  }

  /** The session of KV slot `slot` (one per slot, reused: it keeps its cache between requests). */
  session(slot = 0): Session {
    if (slot < 0 || slot >= this.sessions.length) throw new Error(`KV slot ${slot} does not exist (engine has ${this.sessions.length})`);
    return (this.sessions[slot] ??= new Session(this.model, slot));
  }

  get nSlots(): number {
    return this.sessions.length;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
