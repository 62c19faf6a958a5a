#!/usr/bin/python3
"""Dump a training checkpoint as raw little-endian f32 + a JSON manifest in GGUF tensor naming.

Manifest: {"config": {...}, "tokenizer": <tokenizer.json path>, "tensors": [{"name", "dims" (ggml order,
innermost first), "offset" (bytes into the .f32 file), "n"}]}. tools/train/export-gguf.ts turns it into a GGUF.

Usage: /usr/bin/python3 tools/train/export-weights.py [--ckpt work/run/ckpt.pt] [--out work/export/weights]
"""
import argparse
import json
import os

import numpy as np
import torch


def gguf_tensors(sd, cfg):
    """Yield (name, ggml dims, f32 array laid out with dims[0] innermost)."""
    E, V, X, Fw = cfg['n_embd'], cfg['n_vocab'], cfg['n_expert'], cfg['n_ff_exp']
    hd, H, Hkv = cfg['head_dim'], cfg['n_head'], cfg['n_head_kv']
    t = lambda k: sd[k].detach().float().contiguous().numpy()
    yield 'token_embd.weight', [E, V], t('tok_embd.weight')                    # torch [V, E]
    yield 'output_norm.weight', [E], t('output_norm')
    if not cfg['tie_embd']:
        yield 'output.weight', [E, V], t('output.weight')
    for il in range(cfg['n_layer']):
        p = f'blocks.{il}.'
        b = f'blk.{il}.'
        yield b + 'attn_norm.weight', [E], t(p + 'attn_norm')
        yield b + 'attn_q.weight', [E, H * hd], t(p + 'wq.weight')            # torch Linear [out, in]
        yield b + 'attn_k.weight', [E, Hkv * hd], t(p + 'wk.weight')
        yield b + 'attn_v.weight', [E, Hkv * hd], t(p + 'wv.weight')
        yield b + 'attn_output.weight', [H * hd, E], t(p + 'wo.weight')
        yield b + 'attn_q_norm.weight', [hd], t(p + 'q_norm')
        yield b + 'attn_k_norm.weight', [hd], t(p + 'k_norm')
        yield b + 'ffn_norm.weight', [E], t(p + 'ffn_norm')
        yield b + 'ffn_gate_inp.weight', [E, X], t(p + 'gate_inp.weight')
        # training layout w_gate/w_up [X, E, F] (h @ w), ggml {E, F, X} = memory [X][F][E]
        yield b + 'ffn_gate_exps.weight', [E, Fw, X], np.ascontiguousarray(t(p + 'w_gate').transpose(0, 2, 1))
        yield b + 'ffn_up_exps.weight', [E, Fw, X], np.ascontiguousarray(t(p + 'w_up').transpose(0, 2, 1))
        # training layout w_down [X, F, E], ggml {F, E, X} = memory [X][E][F]
        yield b + 'ffn_down_exps.weight', [Fw, E, X], np.ascontiguousarray(t(p + 'w_down').transpose(0, 2, 1))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', default=os.path.join(here, 'work', 'run', 'ckpt.pt'))
    ap.add_argument('--tok', default=os.path.join(here, 'work', 'tokenizer.json'))
    ap.add_argument('--out', default=os.path.join(here, 'work', 'export', 'weights'))
    args = ap.parse_args()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    ck = torch.load(args.ckpt, map_location='cpu')
    cfg = ck['config']
    entries = []
    off = 0
    with open(args.out + '.f32', 'wb') as f:
        for name, dims, arr in gguf_tensors(ck['model'], cfg):
            arr = np.ascontiguousarray(arr, dtype='<f4')
            assert arr.size == int(np.prod(dims)), (name, arr.shape, dims)
            f.write(arr.tobytes())
            entries.append({'name': name, 'dims': dims, 'offset': off, 'n': int(arr.size)})
            off += arr.size * 4
    manifest = {'config': cfg, 'step': ck['step'], 'tokenizer': os.path.abspath(args.tok),
                'weights': os.path.abspath(args.out + '.f32'), 'tensors': entries}
    with open(args.out + '.json', 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f'wrote {args.out}.f32 ({off} bytes, {len(entries)} tensors, step {ck["step"]})')


if __name__ == '__main__':
    main()
