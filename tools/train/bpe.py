#!/usr/bin/python3
"""Byte-level BPE (GPT-2 style): trainer, encoder, decoder.

The pre-tokenizer is GPT-2's regex, which llama.cpp implements as `tokenizer.ggml.pre = "gpt-2"`:
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
Python's `re` has no \\p{..}; \\p{L} is approximated by [^\\W\\d_] and \\p{N} by \\d, which is exact for
ASCII (all of the code corpus but a few comments/strings).

Token ids: 0..255 single bytes (GPT-2 byte-to-unicode characters), then merges in rank order, then the
special tokens. Saved as JSON: {"tokens": [...], "merges": ["a b", ...], "special": {name: id}, "pre": "gpt-2"}.

Usage: /usr/bin/python3 tools/train/bpe.py train --vocab 4096 --max-bytes 12000000
"""
import argparse
import collections
import heapq
import json
import os
import re
import sys

PRETOKENIZE = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")

SPECIAL_TOKENS = ['<|endoftext|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>',
                  '<|file_sep|>', '<|im_start|>', '<|im_end|>']


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character map."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_UNI = bytes_to_unicode()
UNI_TO_BYTE = {v: k for k, v in BYTE_TO_UNI.items()}


def pretokenize(text):
    return PRETOKENIZE.findall(text)


def word_symbols(word):
    return tuple(BYTE_TO_UNI[b] for b in word.encode('utf-8'))


def train(texts, vocab_size, min_count=2, log=print):
    counts = collections.Counter()
    for t in texts:
        counts.update(pretokenize(t))
    words = [list(word_symbols(w)) for w in counts]
    freqs = list(counts.values())
    log(f'bpe: {len(words)} unique pre-tokens')
    pair_counts = collections.defaultdict(int)
    where = collections.defaultdict(set)
    for i, (w, f) in enumerate(zip(words, freqs)):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += f
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    n_merges = vocab_size - 256 - len(SPECIAL_TOKENS)
    merges = []
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        c = pair_counts.get(pair, 0)
        if c != -negc:
            if c > 0:
                heapq.heappush(heap, (-c, pair))
            continue
        if c < min_count:
            break
        merges.append(pair)
        a, b = pair
        new = a + b
        changed = collections.defaultdict(int)
        for i in list(where[pair]):
            w, f = words[i], freqs[i]
            j = 0
            out = []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(new)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            if len(out) == len(w):
                continue
            for p in zip(w, w[1:]):
                changed[p] -= f
            for p in zip(out, out[1:]):
                changed[p] += f
                where[p].add(i)
            words[i] = out
        for p, d in changed.items():
            if d == 0:
                continue
            pair_counts[p] += d
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
        pair_counts.pop(pair, None)
        where.pop(pair, None)
        if len(merges) % 500 == 0:
            log(f'bpe: {len(merges)} merges, last {new!r} x{c}')
    tokens = [BYTE_TO_UNI[b] for b in range(256)] + [a + b for a, b in merges]
    special = {}
    for s in SPECIAL_TOKENS:
        special[s] = len(tokens)
        tokens.append(s)
    return {'tokens': tokens, 'merges': [f'{a} {b}' for a, b in merges], 'special': special, 'pre': 'gpt-2',
            'pre_regex': PRETOKENIZE.pattern}


class Tokenizer:
    def __init__(self, spec):
        self.spec = spec
        self.tokens = spec['tokens']
        self.special = spec['special']
        self.id_of = {t: i for i, t in enumerate(self.tokens) if t not in self.special}
        self.rank = {tuple(m.split(' ')): r for r, m in enumerate(spec['merges'])}
        self.cache = {}
        self.n_vocab = len(self.tokens)
        self.token_bytes = [s.encode() if s in self.special else bytes(UNI_TO_BYTE[c] for c in s)
                            for s in self.tokens]

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls(json.load(f))

    def _bpe(self, word):
        ids = self.cache.get(word)
        if ids is not None:
            return ids
        sym = list(word_symbols(word))
        rank = self.rank
        while len(sym) > 1:
            best, bi = None, -1
            for i in range(len(sym) - 1):
                r = rank.get((sym[i], sym[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            sym[bi:bi + 2] = [sym[bi] + sym[bi + 1]]
        ids = [self.id_of[s] for s in sym]
        if len(self.cache) < 2_000_000:
            self.cache[word] = ids
        return ids

    def encode(self, text):
        out = []
        for w in pretokenize(text):
            out.extend(self._bpe(w))
        return out

    def decode_bytes(self, ids):
        return b''.join(self.token_bytes[i] for i in ids)

    def decode(self, ids):
        return self.decode_bytes(ids).decode('utf-8', errors='replace')


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    t = sub.add_parser('train')
    t.add_argument('--corpus', default=os.path.join(here, 'work', 'corpus', 'train.jsonl'))
    t.add_argument('--out', default=os.path.join(here, 'work', 'tokenizer.json'))
    t.add_argument('--vocab', type=int, default=4096)
    t.add_argument('--max-bytes', type=int, default=12_000_000)
    e = sub.add_parser('encode')
    e.add_argument('--tok', default=os.path.join(here, 'work', 'tokenizer.json'))
    e.add_argument('text')
    args = ap.parse_args()
    if args.cmd == 'train':
        # balanced sample: files of each language in turn until max-bytes
        by_lang = collections.defaultdict(list)
        with open(args.corpus) as f:
            for line in f:
                d = json.loads(line)
                by_lang[d['lang']].append(d['text'])
        texts, total = [], 0
        iters = [iter(v) for v in by_lang.values()]
        while iters and total < args.max_bytes:
            for it in list(iters):
                x = next(it, None)
                if x is None:
                    iters.remove(it)
                    continue
                texts.append(x)
                total += len(x)
        print(f'bpe: training on {len(texts)} files, {total} chars', flush=True)
        spec = train(texts, args.vocab, log=lambda s: print(s, flush=True))
        with open(args.out, 'w') as f:
            json.dump(spec, f)
        print(f'bpe: wrote {args.out} ({len(spec["tokens"])} tokens)')
    else:
        tok = Tokenizer.load(args.tok)
        ids = tok.encode(args.text)
        print(ids, [tok.tokens[i] for i in ids], repr(tok.decode(ids)))


if __name__ == '__main__':
    main()
