#!/usr/bin/python3
"""Reference outputs of a checkpoint computed in PyTorch (f32), to compare an exported GGUF against.

For each prompt: our tokenizer's ids, the log-softmax of the next-token logits after every prompt position
(top --topk entries) and the greedy continuation of --greedy tokens.

Usage: /usr/bin/python3 tools/train/reference.py --ckpt CKPT --tok TOKENIZER --out reference.json [prompts...]
"""
import argparse
import json

import torch
import torch.nn.functional as F

from bpe import Tokenizer
from eval import Runner
from model import load_checkpoint

DEFAULT_PROMPTS = [
    'import os\nimport sys\n\ndef main():\n    ',
    'export function add(a: number, b: number): number {\n  return',
    "const fs = require('fs');\nconst path = require('path');\n",
    'class Node:\n    def __init__(self, value):\n        self.value = value\n        self.',
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--tok', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--topk', type=int, default=8)
    ap.add_argument('--greedy', type=int, default=16)
    ap.add_argument('prompts', nargs='*')
    args = ap.parse_args()
    torch.set_num_threads(1)
    tok = Tokenizer.load(args.tok)
    model, step = load_checkpoint(args.ckpt)
    r = Runner(model)
    out = []
    for text in args.prompts or DEFAULT_PROMPTS:
        ids = tok.encode(text)
        lp = F.log_softmax(r.logits_all(ids), -1)                             # [T, V]
        top = lp.topk(args.topk, -1)
        greedy = r.greedy(ids, args.greedy, lambda o: False)
        out.append({'text': text, 'ids': ids,
                    'top_ids': top.indices.tolist(), 'top_logprobs': top.values.tolist(),
                    'greedy': greedy})
    with open(args.out, 'w') as f:
        json.dump({'step': step, 'cases': out}, f)
    print(f'wrote {args.out}: {len(out)} prompts')


if __name__ == '__main__':
    main()
