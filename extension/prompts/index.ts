/**
 * Prompt files (`.prompt`): the API the rest of the extension uses. Wiring, in main.ts:
 *
 *     const prompts = createPromptRegistry(context);
 *     context.subscriptions.push(prompts, syncPromptActions(prompts, actions));
 *
 * The pure format modules (parser, validation, rendering) have no `vscode` import and are tested in plain Node.
 */
export { createPromptRegistry, builtinPromptFolder, defaultUserPromptFolder, PromptRegistry, PROMPT_LANGUAGE_ID, WORKSPACE_PROMPT_FOLDER, type PromptRegistryOptions } from './prompt-registry';
export { applyPromptOutput, isPromptAction, promptAction, promptVariables, syncPromptActions, type PromptAction, type PromptRun } from './prompt-actions';
export { parsePromptFile } from './prompt-parser';
export { appliesToLanguage, extractCode, parseSlashCommand, renderPrompt, toChatMessages, type RenderedPrompt } from './prompt-render';
export { BUILTIN_PROMPTS, resolvePromptSet, type ResolvedPrompt } from './prompt-set';
export type { OutputMode, PromptDefinition, PromptDiagnostic, PromptVariable, PromptVariables, SelectionMode } from './prompt-format';
