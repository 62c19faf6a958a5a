/**
 * Prompt files (`.prompt`): the API the rest of the extension uses. Wiring, in main.ts:
 *
 *     const prompts = createPromptRegistry(context);
 *     context.subscriptions.push(prompts, syncPromptActions(prompts, actions));
 *
 * The pure format modules (parser, validation, rendering) have no `vscode` import and are tested in plain Node.
 * Templates only ever run in the bounded renderer process of daemon/template/template-sandbox.ts (the registry
 * owns one sandbox; the daemon renders chat templates through the same code).
 */
export { createPromptRegistry, builtinPromptFolder, defaultUserPromptFolder, PromptRegistry, PROMPT_LANGUAGE_ID, WORKSPACE_PROMPT_FOLDER, type PromptRegistryOptions } from './prompt-registry';
export { applyPromptOutput, isPromptAction, promptAction, promptLabels, promptVariables, syncPromptActions, type PromptAction, type PromptRun, type PromptRunServices } from './prompt-actions';
export { needsApproval, PromptApprovals, type ApprovalStore, type AskToRun } from './prompt-approvals';
export { checkPromptFile, parsePromptFile, PROMPT_FILE_MAX_CHARS } from './prompt-parser';
export { appliesToLanguage, extractCode, parseSlashCommand, PromptRenderError, RENDER_LIMITS, renderPrompt, toChatMessages, type RenderedPrompt } from './prompt-render';
export { CHECK_LIMITS } from './template-check';
export { TEMPLATE_RENDERER_BUNDLE, TemplateLimitError, TemplateSandbox, type TemplateLimits } from '../../daemon/template/template-sandbox';
export { BUILTIN_PROMPTS, resolvePromptSet, type ResolvedPrompt } from './prompt-set';
export type { OutputMode, PromptDefinition, PromptDiagnostic, PromptVariable, PromptVariables, SelectionMode } from './prompt-format';
