import { ensureModel } from '../tools/modelgen/model-cache.js';
import { Model } from '../daemon/engine/model.js';
async function main() {
const path = await ensureModel({ arch: process.argv[2] as any ?? 'qwen3moe', weightType: (process.argv[3] ?? 'F32') as any });
const t0 = performance.now();
const m = await Model.load(path, { backend: 'cpu', allLogits: true, nCtx: 64, threads: Number(process.env.T ?? 2), kvType: 'f32' });
console.log('loaded', m.backendInfo.description, (performance.now() - t0).toFixed(0), 'ms');
const rows = await m.feedAndReadLogits(0, 0, [1, 2, 3, 4, 5]);
console.log(rows.length, Array.from(rows[4]!.slice(0, 5)));
await m.dispose();
const g = await Model.load(path, { backend: 'gpu', allLogits: true, nCtx: 64 });
const rg = await g.feedAndReadLogits(0, 0, [1, 2, 3, 4, 5]);
console.log(rg.length, Array.from(rg[4]!.slice(0, 5)));
let maxd = 0; for (let i = 0; i < 5; i++) for (let j = 0; j < rg[i]!.length; j++) maxd = Math.max(maxd, Math.abs(rg[i]![j]! - rows[i]![j]!));
console.log('max diff', maxd);
await g.dispose();

}
main().catch((e) => { console.error(e); process.exit(1); });
