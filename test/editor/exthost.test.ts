/**
 * The extension-host suites (test/editor/exthost/*.suite.ts: activation, commands, settings, client
 * lifecycle, daemon restart after a kill) inside a real VS Code (code-server). Each mocha test is
 * reported here as one node test. `npm run test:exthost` runs the same without node's runner.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingPrerequisite } from './harness/code-server';
import { runExthostInCodeServer, type ExthostResult } from './harness/run-exthost';

const skip = missingPrerequisite();
if (skip) console.log(`# exthost skipped: ${skip}`);

test('extension-host suites in code-server', { skip, timeout: 15 * 60_000 }, async (t) => {
  const { exitCode, results, log } = await runExthostInCodeServer();
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
