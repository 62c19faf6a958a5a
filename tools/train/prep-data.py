#!/usr/bin/python3
"""Tokenize the corpus into a training token stream with fill-in-the-middle samples.

Each training file is cut at line boundaries into chunks of about --chunk-chars characters. With probability
--fim-rate a chunk becomes a fill-in-the-middle sample (Qwen2.5-Coder token names), in SPM order by default:
    <|fim_suffix|> suffix <|fim_prefix|> prefix <|fim_middle|> middle <|endoftext|>
(or PSM, see fim_tokens), where the middle is chosen by fim_split (below): most often the rest of a line from a
random character, like an inline completion at a cursor. Other chunks are kept as plain text, consecutive in
their file; each file ends with <|endoftext|>. Explanation samples (explain-data.py, ChatML as the daemon asks)
are shuffled in between files. TypeScript/JavaScript files are repeated
--js-repeat times (with different chunk/FIM draws) to balance them with the larger Python share.

Output: work/data/train.u16 (uint16 token ids, shuffled file order) and work/data/meta.json.
"""
import argparse
import json
import os
import random

import numpy as np

from bpe import Tokenizer


def chunks_of(text, max_chars):
    out, cur, n = [], [], 0
    for line in text.splitlines(keepends=True):
        if n + len(line) > max_chars and cur:
            out.append(''.join(cur))
            cur, n = [], 0
        cur.append(line)
        n += len(line)
    if cur:
        out.append(''.join(cur))
    return out


def fim_split(chunk, rng, line_end_rate):
    """(prefix, middle, suffix). Three kinds of middle:
    - with probability line_end_rate: from a random character to the end of its line, sometimes 1-2 more lines,
      ending *before* a newline — exactly what an inline completion at a cursor must produce (the suffix then
      starts with the newline, as in the editor);
    - half of the rest: 1-3 lines from a random character, ending after a newline;
    - otherwise a uniformly random character span."""
    n = len(chunk)
    if line_end_rate > 0 and rng.random() < line_end_rate:  # no draw at 0: the first run's stream is reproduced
        a = rng.randrange(0, n)
        b = chunk.find('\n', a)
        for _ in range(rng.choice((0, 0, 0, 1, 2))):
            if b < 0:
                break
            b = chunk.find('\n', b + 1)
        b = n if b < 0 else b
        return chunk[:a], chunk[a:b], chunk[b:]
    if rng.random() < 0.5:
        a = rng.randrange(0, n)
        b = a
        for _ in range(rng.randint(1, 3)):
            j = chunk.find('\n', b)
            b = n if j < 0 else j + 1
            if b >= n:
                break
    else:
        a, b = sorted((rng.randrange(0, n + 1), rng.randrange(0, n + 1)))
    return chunk[:a], chunk[a:b], chunk[b:]


def fim_tokens(tok, prefix, middle, suffix, order):
    """PSM: <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|> middle <|endoftext|>
    SPM: <|fim_suffix|> suffix <|fim_prefix|> prefix <|fim_middle|> middle <|endoftext|> (llama.cpp's --spm-infill
    layout): the prefix sits right before the middle, which a small model continues far better, and typing at the
    cursor only appends to the prompt, so the daemon's KV cache keeps everything before the new characters."""
    sp = tok.special
    pre = [sp['<|fim_prefix|>']] + tok.encode(prefix)
    suf = [sp['<|fim_suffix|>']] + tok.encode(suffix)
    head = pre + suf if order == 'psm' else suf + pre
    return head + [sp['<|fim_middle|>']] + tok.encode(middle) + [sp['<|endoftext|>']]


def chatml_prompt(tok, system, user):
    """The daemon's ChatML prompt for a system + user message, ending after `<|im_start|>assistant\\n`. Text between
    special tokens is encoded piece by piece, as the daemon tokenizes the rendered template."""
    sp = tok.special
    start, end = sp['<|im_start|>'], sp['<|im_end|>']
    out = []
    for role, content in (('system', system), ('user', user)):
        out += [start] + tok.encode(f'{role}\n{content}') + [end] + tok.encode('\n')
    return out + [start] + tok.encode('assistant\n')


def chatml_tokens(tok, sample):
    """One explanation sample (explain-data.py): the prompt, the answer (generated tokens follow `assistant\\n`),
    <|im_end|> and a newline as the template writes them, then <|endoftext|>."""
    sp = tok.special
    return (chatml_prompt(tok, sample['system'], sample['user']) + tok.encode(sample['assistant'])
            + [sp['<|im_end|>']] + tok.encode('\n') + [sp['<|endoftext|>']])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--corpus', default=os.path.join(here, 'work', 'corpus', 'train.jsonl'))
    ap.add_argument('--tok', default=os.path.join(here, 'work', 'tokenizer.json'))
    ap.add_argument('--out', default=os.path.join(here, 'work', 'data'))
    ap.add_argument('--chunk-chars', type=int, default=1400)
    ap.add_argument('--fim-rate', type=float, default=0.5)
    ap.add_argument('--fim-line-end-rate', type=float, default=0.5,
                    help='share of FIM samples whose middle ends at a line end (0 reproduces the first run)')
    ap.add_argument('--fim-order', choices=('psm', 'spm'), default='spm',
                    help='token order of FIM samples (the first run used psm)')
    ap.add_argument('--js-repeat', type=int, default=2)
    ap.add_argument('--explain', default=os.path.join(here, 'work', 'corpus', 'explain.jsonl'),
                    help='explanation samples from explain-data.py, mixed in between files ("" for none)')
    ap.add_argument('--seed', type=int, default=7)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tok = Tokenizer.load(args.tok)
    eot = tok.special['<|endoftext|>']
    rng = random.Random(args.seed)
    docs = [json.loads(l) for l in open(args.corpus)]
    items = []
    for d in docs:
        rep = args.js_repeat if d['lang'] in ('typescript', 'javascript') else 1
        items += [d] * rep
    n_explain = 0
    if args.explain:
        for line in open(args.explain):
            items.append({'chat': json.loads(line)})
            n_explain += 1
    rng.shuffle(items)
    out = []
    n_fim = n_plain = n_bytes = n_explain_tokens = 0
    for d in items:
        if 'chat' in d:
            ids = chatml_tokens(tok, d['chat'])
            out.extend(ids)
            n_explain_tokens += len(ids)
            continue
        n_bytes += len(d['text'].encode())
        for ch in chunks_of(d['text'], args.chunk_chars):
            if rng.random() < args.fim_rate and len(ch) > 8:
                out.extend(fim_tokens(tok, *fim_split(ch, rng, args.fim_line_end_rate), args.fim_order))
                n_fim += 1
            else:
                out.extend(tok.encode(ch))
                n_plain += 1
        out.append(eot)
    arr = np.array(out, dtype=np.uint16)
    arr.tofile(os.path.join(args.out, 'train.u16'))
    meta = {'tokens': int(arr.size), 'bytes': n_bytes, 'files': len(items) - n_explain, 'fim_chunks': n_fim,
            'plain_chunks': n_plain, 'explain_samples': n_explain, 'explain_tokens': n_explain_tokens, 'args': vars(args)}
    with open(os.path.join(args.out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == '__main__':
    main()
