/**
 * Whether the Vulkan loader could find any driver (ICD) on Linux, checked the way the loader looks for
 * them (its manifest search path, LoaderDriverInterface.md), without creating a Vulkan instance.
 * Creating a Dawn instance on a machine without drivers makes the loader and Dawn print
 * "vkCreateInstance: Found no drivers!" with a build-machine path to stderr, on every command; with
 * this probe the engine goes straight to its software fallback instead.
 */
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Directories the loader reads `*.json` driver manifests from, in its order. */
export function vulkanDriverManifestDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME ?? homedir();
  const configHome = env.XDG_CONFIG_HOME || join(home, '.config');
  const configDirs = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':');
  const dataHome = env.XDG_DATA_HOME || join(home, '.local', 'share');
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  return [configHome, ...configDirs, '/usr/local/etc', '/etc', dataHome, ...dataDirs].filter(Boolean).map((d) => join(d, 'vulkan', 'icd.d'));
}

/** True when a driver is named by the environment or a manifest exists; always true off Linux. */
export function vulkanDriversInstalled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux') return true;
  if (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || env.VK_ADD_DRIVER_FILES) return true;
  return vulkanDriverManifestDirs(env).some((dir) => {
    try {
      return readdirSync(dir).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}
