/** The Vulkan driver probe that keeps Dawn from printing "Found no drivers!" on machines without one. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { vulkanDriverManifestDirs, vulkanDriversInstalled } from '../../daemon/gpu/vulkan-drivers.js';

test('a manifest in any loader directory, or a driver named in the environment, counts as installed', (t) => {
  if (process.platform !== 'linux') return t.skip('the probe only runs on Linux');
  const root = mkdtempSync(join(tmpdir(), 'moecode-vk-'));
  try {
    const env = { HOME: root, XDG_CONFIG_DIRS: join(root, 'xdg'), XDG_DATA_DIRS: join(root, 'share') };
    const dirs = vulkanDriverManifestDirs(env);
    assert.ok(dirs.includes(join(root, '.config', 'vulkan', 'icd.d')));
    assert.ok(dirs.includes(join(root, 'share', 'vulkan', 'icd.d')));
    assert.ok(dirs.includes('/etc/vulkan/icd.d'));
    const systemHasOne = ['/etc/vulkan/icd.d', '/usr/local/etc/vulkan/icd.d'].some((d) => {
      try {
        return readdirSync(d).some((f) => f.endsWith('.json'));
      } catch {
        return false;
      }
    });
    if (!systemHasOne) assert.equal(vulkanDriversInstalled(env), false, 'no manifest anywhere');
    assert.equal(vulkanDriversInstalled({ ...env, VK_DRIVER_FILES: '/x/nvidia_icd.json' }), true);
    assert.equal(vulkanDriversInstalled({ ...env, VK_ICD_FILENAMES: '/x/icd.json' }), true);
    const icd = join(root, 'share', 'vulkan', 'icd.d');
    mkdirSync(icd, { recursive: true });
    writeFileSync(join(icd, 'radeon_icd.x86_64.json'), '{}');
    assert.equal(vulkanDriversInstalled(env), true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
