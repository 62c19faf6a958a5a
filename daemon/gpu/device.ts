/**
 * GPU device selection. Hardware adapters first; on Linux with no usable adapter, SwiftShader (the CPU
 * Vulkan driver shipped by Debian's `chromium` package) as the software fallback.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { vulkanDriversInstalled } from './vulkan-drivers.js';

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/**
 * Loads Dawn's N-API addon from the `webgpu` package directly: that package's entry point is ESM-only,
 * while the extension host and the daemon bundle are CommonJS.
 */
function loadDawn(): DawnModule {
  const pkgDir = dirname(require.resolve('webgpu/package.json'));
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  const addon = join(pkgDir, 'dist', `${process.platform}-${arch}`, 'dawn.node');
  if (!existsSync(addon)) throw new GpuUnavailableError(`WebGPU (Dawn) has no build for ${process.platform}-${process.arch}: ${addon} is missing.`);
  return require(addon) as DawnModule;
}
let dawn: DawnModule | undefined;

export const SWIFTSHADER_ICD_PATHS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}

export interface GpuInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software (CPU) implementation: correct, but slow. */
  isFallback: boolean;
  backend: string;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
  features: string[];
  hasF16: boolean;
  hasSubgroups: boolean;
  hasPackedDot4: boolean;
}

export interface Gpu {
  device: GPUDevice;
  info: GpuInfo;
  /** Largest single binding the engine will use (may be lowered for tests of the row-shard path). */
  maxBindingBytes: number;
  destroy(): void;
}

export interface GpuOptions {
  /** 'auto' (hardware first, software fallback), 'hardware' (fail without one), 'software' (SwiftShader only). */
  adapter?: 'auto' | 'hardware' | 'software';
  /** Force a smaller binding limit, to exercise tensor sharding. */
  maxBindingBytes?: number;
  /** Keep Dawn's bounds checks on (default off: kernels never read out of bounds, and it doubles speed). */
  robustness?: boolean;
}

// dawn.node crashes if its instance is collected while work is in flight: keep every instance reachable.
const instances: GPU[] = [];
let globalsInstalled = false;

function makeInstance(robustness: boolean): GPU {
  dawn ??= loadDawn();
  if (process.platform === 'linux' && !process.env.XDG_RUNTIME_DIR) {
    // Vulkan's window-system code complains on every instance without it; headless, any private dir will do.
    process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'moecode-xdg-'));
  }
  if (!globalsInstalled) {
    Object.assign(globalThis, dawn.globals);
    globalsInstalled = true;
  }
  const flags = robustness ? [] : ['enable-dawn-features=disable_robustness'];
  const gpu = dawn.create(flags);
  instances.push(gpu);
  return gpu;
}

function findSwiftShader(): string | undefined {
  return SWIFTSHADER_ICD_PATHS.find((p) => existsSync(p));
}

async function requestAdapter(gpu: GPU): Promise<GPUAdapter | null> {
  return (await gpu.requestAdapter({ powerPreference: 'high-performance' })) ?? (await gpu.requestAdapter());
}

function isSoftware(adapter: GPUAdapter): boolean {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return Boolean(info.isFallbackAdapter) || /swiftshader|llvmpipe|lavapipe|software|warp/.test(text);
}

async function pickAdapter(opts: GpuOptions): Promise<GPUAdapter> {
  const mode = opts.adapter ?? 'auto';
  const robustness = opts.robustness ?? false;
  const swiftshader = process.platform === 'linux' ? findSwiftShader() : undefined;
  let adapter: GPUAdapter | null = null;
  // no Vulkan driver at all: creating an instance would only print the loader's "Found no drivers!"
  const hardwareDrivers = vulkanDriversInstalled();
  if ((mode !== 'software' || !swiftshader || process.env.VK_ICD_FILENAMES) && (hardwareDrivers || !swiftshader)) {
    adapter = await requestAdapter(makeInstance(robustness));
    if (adapter && mode === 'software' && !isSoftware(adapter)) adapter = null;
  }
  if (!adapter && mode !== 'hardware' && swiftshader) {
    // The Vulkan loader reads this when a new Dawn instance creates its VkInstance.
    process.env.VK_ICD_FILENAMES = swiftshader;
    adapter = await requestAdapter(makeInstance(robustness));
  }
  if (!adapter) {
    const hint =
      process.platform === 'linux'
        ? 'Install a Vulkan driver for your GPU (and libvulkan1), or install Chromium (Debian/Ubuntu: `sudo apt-get install -y chromium libvulkan1`) to use its SwiftShader software renderer.'
        : 'Update your GPU driver: WebGPU needs Metal (macOS) or Direct3D 12 / Vulkan (Windows).';
    throw new GpuUnavailableError(`No WebGPU adapter is available. ${hint}`);
  }
  if (mode === 'hardware' && isSoftware(adapter)) {
    throw new GpuUnavailableError('Only a software WebGPU adapter is available, and adapter preference is "hardware".');
  }
  return adapter;
}

export async function createGpu(opts: GpuOptions = {}): Promise<Gpu> {
  const adapter = await pickAdapter(opts);
  const want: GPUFeatureName[] = [];
  for (const f of ['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[]) {
    if (adapter.features.has(f)) want.push(f);
  }
  const L = adapter.limits;
  const requiredLimits: Record<string, number> = {};
  for (const key of [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupsPerDimension',
    'maxUniformBufferBindingSize',
    'maxBindGroups',
  ]) {
    const v = (L as unknown as Record<string, number>)[key];
    if (typeof v === 'number') requiredLimits[key] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures: want, requiredLimits });
  device.addEventListener('uncapturederror', (ev) => {
    const e = (ev as GPUUncapturedErrorEvent).error;
    process.emitWarning(`WebGPU error: ${e.message}`);
  });
  const ai = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean; backend?: string };
  const hasPackedDot4 = instances[instances.length - 1].wgslLanguageFeatures?.has('packed_4x8_integer_dot_product');
  if (!hasPackedDot4) {
    device.destroy();
    throw new GpuUnavailableError('this WebGPU implementation lacks WGSL packed_4x8_integer_dot_product, which the quantised kernels need');
  }
  // A buffer of exactly maxBufferSize can fail to allocate (seen on SwiftShader at 1 GiB): keep a margin.
  const bindingCap = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) - 4 * 1024 * 1024;
  const info: GpuInfo = {
    vendor: ai.vendor || 'unknown',
    architecture: ai.architecture || '',
    device: ai.device || '',
    description: ai.description || '',
    isFallback: isSoftware(adapter),
    backend: ai.backend ?? (process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan'),
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    maxBufferSize: device.limits.maxBufferSize,
    maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    features: [...device.features],
    hasF16: device.features.has('shader-f16'),
    hasSubgroups: device.features.has('subgroups'),
    hasPackedDot4: Boolean(hasPackedDot4),
  };
  const maxBindingBytes = Math.max(4096, Math.min(bindingCap, opts.maxBindingBytes ?? Infinity));
  return { device, info, maxBindingBytes, destroy: () => device.destroy() };
}

export function describeGpu(info: GpuInfo): string {
  const name = info.description || `${info.vendor} ${info.device}`.trim();
  return `${name} (${info.backend}${info.isFallback ? ', software fallback' : ''})`;
}
