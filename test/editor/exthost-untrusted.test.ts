/**
 * The extension-host suites that need a window in Restricted Mode (test/editor/exthost/*.untrusted-suite.ts),
 * inside a real VS Code (code-server) started with workspace trust on and the folder untrusted; the workspace
 * holds the prompt files of exthost/untrusted-workspace.ts. Each mocha test is reported as one node test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UNTRUSTED_WORKSPACE_FILES } from './exthost/untrusted-workspace';
import { missingPrerequisite } from './harness/code-server';
import { runExthostInCodeServer, type ExthostResult } from './harness/run-exthost';

const skip = missingPrerequisite();
if (skip) console.log(`# exthost-untrusted skipped: ${skip}`);

test('extension-host suites in an untrusted workspace', { skip, timeout: 10 * 60_000 }, async (t) => {
  const { exitCode, results, log } = await runExthostInCodeServer({ suites: 'untrusted', files: UNTRUSTED_WORKSPACE_FILES, timeoutMs: 8 * 60_000 });
  if (results.length === 0) assert.fail(`no extension-host test reported (exit ${exitCode}):\n${log.slice(-6000)}`);
  const failed: ExthostResult[] = [];
  for (const r of results) {
    await t.test(r.title, { skip: r.state === 'pending' ? r.error ?? 'skipped in the extension host' : false }, () => {
      if (r.state === 'failed') {
        failed.push(r);
        assert.fail(r.error);
      }
    });
  }
  assert.equal(exitCode, failed.length ? 1 : 0, failed.length ? `failed: ${failed.map((f) => f.title).join('; ')}` : `exit code ${exitCode}:\n${log.slice(-4000)}`);
});
