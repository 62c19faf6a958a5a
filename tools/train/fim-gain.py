#!/usr/bin/python3
"""How much the suffix helps: bits per byte of the rest of the current line (plus its newline) at random cursor
positions in held-out files (those sharing <= 30 % of lines with training files), given the prefix only
(`<|endoftext|> prefix`) versus given prefix and suffix in the FIM order ORDER (spm or psm; suffix = the next line).

Usage: /usr/bin/python3 tools/train/fim-gain.py CKPT [ORDER]   (run from tools/train/; ORDER defaults to spm)
"""
import json
import math
import sys

import torch
import torch.nn.functional as F
torch.set_num_threads(1)
from bpe import Tokenizer
from eval import Runner, make_cases, line_overlap
from model import load_checkpoint
tok = Tokenizer.load('work/tokenizer.json'); sp = tok.special
order = sys.argv[2] if len(sys.argv) > 2 else 'spm'
m, _ = load_checkpoint(sys.argv[1]); r = Runner(m)
docs = [json.loads(l) for l in open('work/corpus/heldout.jsonl')]
ov = line_overlap('work/corpus/train.jsonl', docs); docs = [d for d, o in zip(docs, ov) if o <= 0.3]
cases = make_cases(docs, 200, 77, 800, 400)
tot = {'prefix': 0.0, 'fim': 0.0}; nbytes = 0
for cs in cases:
    mid = tok.encode(cs['line'] + '\n'); pre = tok.encode(cs['prefix'])[-120:]; suf = tok.encode(cs['next'] + '\n')[:60]
    # middle = rest of line + newline, suffix = the following line (as in cursor-style training samples)
    for mode in ('prefix', 'fim'):
        p_ids, s_ids = [sp['<|fim_prefix|>']] + pre, [sp['<|fim_suffix|>']] + suf
        ctx = [sp['<|endoftext|>']] + pre if mode == 'prefix' else (p_ids + s_ids if order == 'psm' else s_ids + p_ids) + [sp['<|fim_middle|>']]
        ids = ctx + mid
        lp = F.log_softmax(r.logits_all(ids[:-1]), -1)
        tot[mode] -= sum(float(lp[len(ctx) - 1 + j, mid[j]]) for j in range(len(mid)))
    nbytes += len((cs['line'] + '\n').encode())
print(json.dumps({'order': order, 'cases': len(cases), 'middle_bytes': nbytes, **{f'{k}_bpb': v / math.log(2) / nbytes for k, v in tot.items()}}))
