#!/usr/bin/python3
"""Write a small randomly initialised checkpoint (same format as train.py's) for export/conformance tests.

Router weights are scaled up so that top-k expert choices are decided by a clear margin, and the q/k norm
weights are randomised so that a swapped or missing norm shows up.

Usage: /usr/bin/python3 tools/train/make-tiny.py --tok TOKENIZER.json --out CKPT.pt [--seed 1]
"""
import argparse
import json

import torch

from model import Config, MoeModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tok', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    with open(args.tok) as f:
        n_vocab = len(json.load(f)['tokens'])
    torch.manual_seed(args.seed)
    c = Config(n_vocab=n_vocab, n_ctx=256, n_layer=2, n_embd=64, n_head=4, n_head_kv=2, head_dim=32, n_ff_exp=64)
    m = MoeModel(c)
    with torch.no_grad():
        m.tok_embd.weight.mul_(20)
        m.output_norm.uniform_(0.5, 1.5)
        for b in m.blocks:
            b.gate_inp.weight.mul_(20)
            b.q_norm.uniform_(0.5, 1.5)
            b.k_norm.uniform_(0.5, 1.5)
            b.attn_norm.uniform_(0.5, 1.5)
            b.ffn_norm.uniform_(0.5, 1.5)
            b.w_down.mul_(10)
            b.wo.weight.mul_(10)
    torch.save({'model': m.state_dict(), 'config': c.to_dict(), 'step': 0}, args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
