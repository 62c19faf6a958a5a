#!/usr/bin/python3
"""How well the model explains held-out code: documented functions and classes from the held-out files (never
trained on), asked exactly as the daemon's "Explain Selection" asks (explain-data.py layout), greedy answer until
<|im_end|>. Score: unigram F1 between the answer and the author's documentation (first paragraph), lowercased
words. Baselines on the same cases:
  * nearest neighbour: the documentation of the training sample whose code shares the most identifier words
    (Jaccard) — what retrieval from the training set would answer;
  * constant: the most common first words of training answers ("Return the ...").

Usage: /usr/bin/python3 tools/train/eval-explain.py --ckpt work/run/ckpt.pt [--samples 150] [--json out.json]
(run from tools/train/)
"""
import argparse
import collections
import importlib.util
import json
import os
import random
import re

import torch

from bpe import Tokenizer
from eval import Runner, line_overlap
from model import load_checkpoint


def load(name, file):
    spec = importlib.util.spec_from_file_location(name, file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


WORD = re.compile(r'[a-z0-9]+')


def words(text):
    return WORD.findall(text.lower())


def f1(answer, truth):
    a, t = collections.Counter(words(answer)), collections.Counter(words(truth))
    common = sum((a & t).values())
    if common == 0:
        return 0.0
    p, r = common / sum(a.values()), common / sum(t.values())
    return 2 * p * r / (p + r)


def idents(code):
    return set(re.findall(r'[A-Za-z_][A-Za-z0-9_]{2,}', code))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', default=os.path.join(here, 'work', 'run', 'ckpt.pt'))
    ap.add_argument('--tok', default=os.path.join(here, 'work', 'tokenizer.json'))
    ap.add_argument('--heldout', default=os.path.join(here, 'work', 'corpus', 'heldout.jsonl'))
    ap.add_argument('--train-explain', default=os.path.join(here, 'work', 'corpus', 'explain.jsonl'))
    ap.add_argument('--train-corpus', default=os.path.join(here, 'work', 'corpus', 'train.jsonl'))
    ap.add_argument('--max-overlap', type=float, default=0.3)
    ap.add_argument('--samples', type=int, default=150)
    ap.add_argument('--max-new', type=int, default=48)
    ap.add_argument('--seed', type=int, default=5)
    ap.add_argument('--json', default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ex = load('explain', os.path.join(here, 'explain-data.py'))
    prep = load('prep', os.path.join(here, 'prep-data.py'))
    tok = Tokenizer.load(args.tok)
    sp = tok.special

    docs = [json.loads(l) for l in open(args.heldout)]
    if args.max_overlap < 1.0:
        ov = line_overlap(args.train_corpus, docs)
        docs = [d for d, o in zip(docs, ov) if o <= args.max_overlap]
    cases = []
    for d in docs:
        for a, b, code, answer in ex.documented_code(d):
            cases.append({'lang': d['lang'], 'code': code, 'truth': answer,
                          'user': ex.explain_user_message(d['lang'], os.path.basename(d['path']), a, b, code)})
    random.Random(args.seed).shuffle(cases)
    cases = cases[:args.samples]

    train = [json.loads(l) for l in open(args.train_explain)]
    train_code = [(idents(s['user']), s['assistant']) for s in train]
    first_words = collections.Counter(' '.join(s['assistant'].split()[:4]) for s in train).most_common(1)[0][0]

    model, step = load_checkpoint(args.ckpt)
    runner = Runner(model)
    end = {sp['<|im_end|>'], sp['<|endoftext|>']}
    banned = [sp[s] for s in ('<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>', '<|im_start|>')]
    scores = {'model': [], 'nearest': [], 'constant': []}
    examples = []
    for c in cases:
        prompt = prep.chatml_prompt(tok, ex.SYSTEM, c['user'])[-(model.c.n_ctx - args.max_new):]
        out = runner.greedy(prompt, args.max_new, lambda o: o[-1] in end, banned)
        answer = tok.decode([t for t in out if t not in sp.values()]).strip()
        mine = idents(c['code'])
        nearest = max(train_code, key=lambda tc: len(mine & tc[0]) / (len(mine | tc[0]) or 1))[1]
        scores['model'].append(f1(answer, c['truth']))
        scores['nearest'].append(f1(nearest, c['truth']))
        scores['constant'].append(f1(first_words, c['truth']))
        if len(examples) < 8:
            examples.append({'code': c['code'][:200], 'truth': c['truth'], 'model': answer})
    report = {'cases': len(cases), 'heldout_files': len(docs), 'step': step,
              **{f'{k}_unigram_f1': sum(v) / len(v) for k, v in scores.items()},
              'constant_answer': first_words, 'examples': examples}
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
