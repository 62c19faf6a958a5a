#!/usr/bin/python3
"""Evaluate a checkpoint on the held-out files, next to a token n-gram baseline trained on the same stream.

Metrics (all on tools/train/work/corpus/heldout.jsonl, never trained on):
  * bits per byte (plain text, windows of n_ctx with half-window overlap; every token scored once)
  * exact match, greedy, at random cursor positions inside non-blank lines (seeded):
      line      the rest of the current line (generation stops at the first newline)
      2-lines   the rest of the current line and the whole next line
    each prefix-only (up to --prefix-chars before the cursor) and FIM (--fim-order spm: <|fim_suffix|> suffix
    <|fim_prefix|> prefix <|fim_middle|>; psm: prefix first; suffix = up to --suffix-chars after the target).
    --heal: token healing at the cursor, as the daemon does (see Healer).
    Comparison ignores trailing whitespace.
Baseline: interpolated Witten-Bell token n-gram (order --ngram) counted on work/data/train.u16.

Usage: /usr/bin/python3 tools/train/eval.py [--ckpt work/run/ckpt.pt] [--samples 200] [--json out.json]
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from bpe import Tokenizer
from model import MoeModel, load_checkpoint, rms_norm, rope_neox

BITS = 12  # token id bits in n-gram keys (vocab <= 4096)


# ---------------------------------------------------------------- transformer with a KV cache
class Runner:
    def __init__(self, model: MoeModel):
        self.m = model
        self.c = model.c

    @torch.no_grad()
    def logits_all(self, ids):
        x = torch.tensor([ids])
        return self.m(x)[0][0]                                                # [T, V]

    @torch.no_grad()
    def forward_cached(self, ids, cache):
        """Run new tokens `ids` after the cached ones; return logits of the last one. cache: list of (k, v)."""
        m, c = self.m, self.c
        pos0 = cache[0][0].shape[2] if cache else 0
        T = len(ids)
        x = m.tok_embd(torch.tensor([ids]))
        cos, sin = m.rope(T, pos0)
        new_cache = []
        for il, b in enumerate(m.blocks):
            h = rms_norm(x, b.attn_norm, c.rms_eps)
            q = b.wq(h).view(1, T, c.n_head, c.head_dim).transpose(1, 2)
            k = b.wk(h).view(1, T, c.n_head_kv, c.head_dim).transpose(1, 2)
            v = b.wv(h).view(1, T, c.n_head_kv, c.head_dim).transpose(1, 2)
            q = rope_neox(rms_norm(q, b.q_norm, c.rms_eps), cos, sin)
            k = rope_neox(rms_norm(k, b.k_norm, c.rms_eps), cos, sin)
            if cache:
                k = torch.cat([cache[il][0], k], 2)
                v = torch.cat([cache[il][1], v], 2)
            new_cache.append((k, v))
            rep = c.n_head // c.n_head_kv
            kk, vv = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            att = (q @ kk.transpose(-1, -2)) / math.sqrt(c.head_dim)         # [1, H, T, pos0+T]
            S = pos0 + T
            mask = torch.ones(T, S, dtype=torch.bool).triu(pos0 + 1)
            att = att.masked_fill(mask, float('-inf')).softmax(-1)
            y = (att @ vv).transpose(1, 2).reshape(1, T, -1)
            x = x + b.wo(y)
            mo, _, _ = b.moe(x)
            x = x + mo
        x = rms_norm(x[:, -1], m.output_norm, c.rms_eps)
        w = m.tok_embd.weight if m.output is None else m.output.weight
        return (x @ w.t())[0], new_cache

    def greedy(self, prompt, max_new, stop, banned=(), first_allowed=None):
        assert len(prompt) + max_new <= self.c.n_ctx, 'prompt does not fit the context'
        logits, cache = self.forward_cached(prompt, [])
        out = []
        for _ in range(max_new):
            if banned:
                logits[list(banned)] = float('-inf')
            if first_allowed is not None and not out:
                logits[~torch.from_numpy(first_allowed)] = float('-inf')
            t = int(logits.argmax())
            out.append(t)
            if stop(out):
                break
            logits, cache = self.forward_cached([t], cache)
        return out


# ---------------------------------------------------------------- n-gram baseline
class NGram:
    """Interpolated Witten-Bell n-gram over token ids, counts in sorted numpy key arrays."""

    def __init__(self, stream, order, n_vocab):
        self.order, self.V = order, n_vocab
        s = stream.astype(np.int64)
        self.tables = []  # per n (1..order): (ctx_keys, ctx_count, ctx_types), (keys, counts)
        for n in range(1, order + 1):
            key = np.zeros(s.size - n + 1, dtype=np.int64)
            for j in range(n):
                key = (key << BITS) | s[j:s.size - n + 1 + j]
            keys, counts = np.unique(key, return_counts=True)
            ctx = keys >> BITS
            ck, first = np.unique(ctx, return_index=True)
            csum = np.add.reduceat(counts, first)
            ctypes = np.diff(np.append(first, keys.size))
            self.tables.append((ck, csum, ctypes, keys, counts))

    def _ctx_key(self, hist, n):
        k = 0
        for t in hist[len(hist) - (n - 1):] if n > 1 else []:
            k = (k << BITS) | int(t)
        return k

    def dist(self, hist):
        p = np.full(self.V, 1.0 / self.V)
        for n in range(1, self.order + 1):
            if n > 1 and len(hist) < n - 1:
                break
            ck, csum, ctypes, keys, counts = self.tables[n - 1]
            ctx = self._ctx_key(hist, n)
            i = np.searchsorted(ck, ctx)
            if i >= ck.size or ck[i] != ctx:
                continue
            c_h, t_h = csum[i], ctypes[i]
            lo = np.searchsorted(keys, ctx << BITS)
            hi = np.searchsorted(keys, (ctx + 1) << BITS)
            cnt = np.zeros(self.V)
            cnt[(keys[lo:hi] & ((1 << BITS) - 1))] = counts[lo:hi]
            p = (cnt + t_h * p) / (c_h + t_h)
        return p

    def greedy(self, prompt, max_new, stop, banned=(), first_allowed=None):
        hist = list(prompt)
        out = []
        for _ in range(max_new):
            p = self.dist(hist)
            if banned:
                p[list(banned)] = -1.0
            if first_allowed is not None and not out:
                p[~first_allowed] = -1.0
            t = int(np.argmax(p))
            out.append(t)
            hist.append(t)
            if stop(out):
                break
        return out


# ---------------------------------------------------------------- tasks
def make_cases(docs, n, seed, prefix_chars, suffix_chars):
    rng = random.Random(seed)
    cases = []
    while len(cases) < n:
        doc = rng.choice(docs)
        d = doc['text']
        c = rng.randrange(0, len(d))
        ls = d.rfind('\n', 0, c) + 1
        le = d.find('\n', c)
        if le < 0:
            continue
        rest = d[c:le]
        if not rest.strip():
            continue
        ne = d.find('\n', le + 1)
        if ne < 0:
            continue
        nxt = d[le + 1:ne]
        cases.append({'lang': doc['lang'], 'prefix': d[max(0, c - prefix_chars):c], 'line': rest, 'next': nxt,
                      'suffix_line': d[le:le + suffix_chars], 'suffix_2': d[ne:ne + suffix_chars]})
    return cases


def newline_stop(tok, k, skip=0):
    eot = {tok.special['<|endoftext|>'], tok.special['<|fim_pad|>'], tok.special['<|file_sep|>']}

    def stop(out):
        text = tok.decode_bytes([t for t in out if t < 256 + len(tok.spec['merges'])])[skip:]
        return out[-1] in eot or text.count(b'\n') >= k
    return stop


def decode_lines(tok, out, k, skip=0):
    """The first k lines of the generated text, after dropping `skip` healed bytes the prompt already had."""
    data = tok.decode_bytes([t for t in out if t not in tok.special.values()])[skip:]
    return data.decode('utf-8', errors='replace').split('\n')[:k]


class Healer:
    """Token healing: a cursor in the middle of a word leaves the prompt ending in a token the model never saw
    split there (`retu` -> `ret` `u`, while training text always has ` return`). Drop the prompt's last token and
    let the first generated token be any token whose bytes start with the dropped token's bytes; the dropped
    bytes are then removed from the output. Same rule as the daemon's completion path."""

    def __init__(self, tok):
        self.tok = tok
        self.n_text = 256 + len(tok.spec['merges'])
        self.bytes = [tok.decode_bytes([i]) for i in range(self.n_text)]

    def heal(self, prompt_tail):
        """prompt_tail: the prefix's token ids. Returns (ids without the healed token, allowed mask, healed bytes)."""
        if len(prompt_tail) < 2 or prompt_tail[-1] >= self.n_text:
            return prompt_tail, None, b''
        h = self.bytes[prompt_tail[-1]]
        allowed = np.zeros(self.tok.n_vocab, dtype=bool)
        for i, b in enumerate(self.bytes):
            allowed[i] = b.startswith(h)
        return prompt_tail[:-1], allowed, h


def run_tasks(gen, tok, cases, max_new, n_ctx, heal=False, fim_order='spm'):
    """Exact-match rates. Prompts are fitted into n_ctx - max_new*k tokens: the prefix is cut on the left,
    the FIM suffix (at most a third of the budget) on the right. With heal, the last prefix token is healed."""
    sp = tok.special
    healer = Healer(tok) if heal else None
    res = {}
    # FIM control tokens mean nothing inside a completion: never generate them (as an editor client would)
    banned = [sp[s] for s in ('<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>')]
    for mode in ('prefix', 'fim'):
        for k, name in ((1, 'line'), (2, '2-lines')):
            hits = 0
            by_lang = {}
            by_len = {}  # by length of the rest of the current line (characters, trailing spaces ignored)
            budget = n_ctx - max_new * k - 3
            for cs in cases:
                pre = tok.encode(cs['prefix'])
                allowed, healed = None, b''
                if healer:
                    pre, allowed, healed = healer.heal(pre)
                if mode == 'prefix':
                    prompt = [sp['<|endoftext|>']] + pre[-(budget + 2):]
                else:
                    suf = tok.encode(cs['suffix_line'] if k == 1 else cs['suffix_2'])[:budget // 3]
                    pre = pre[-(budget - len(suf)):]
                    p_ids, s_ids = [sp['<|fim_prefix|>']] + pre, [sp['<|fim_suffix|>']] + suf
                    prompt = (p_ids + s_ids if fim_order == 'psm' else s_ids + p_ids) + [sp['<|fim_middle|>']]
                out = gen(prompt, max_new * k, newline_stop(tok, k, len(healed)), banned, allowed)
                lines = decode_lines(tok, out, k, skip=len(healed))
                want = [cs['line'], cs['next']][:k]
                ok = len(lines) >= k and all(a.rstrip() == b.rstrip() for a, b in zip(lines, want))
                hits += ok
                n_l, h_l = by_lang.get(cs['lang'], (0, 0))
                by_lang[cs['lang']] = (n_l + 1, h_l + ok)
                rest = len(cs['line'].rstrip())
                bucket = 'rest<=10' if rest <= 10 else 'rest<=30' if rest <= 30 else 'rest>30'
                n_b, h_b = by_len.get(bucket, (0, 0))
                by_len[bucket] = (n_b + 1, h_b + ok)
            res[f'{mode}/{name}'] = hits / len(cases)
            for lang, (n_l, h_l) in sorted(by_lang.items()) + sorted(by_len.items()):
                res[f'{mode}/{name}/{lang}'] = f'{h_l}/{n_l}'
    return res


def doc_ids(tok, docs, max_tokens, per_doc=1024):
    """<|endoftext|> + the first `per_doc` tokens of each document, until `max_tokens` are scored."""
    eot = tok.special['<|endoftext|>']
    total = 0
    for d in docs:
        if total >= max_tokens:
            break
        ids = [eot] + tok.encode(d['text'])[:min(per_doc, max_tokens - total)]
        total += len(ids) - 1
        yield ids


def bpb_model(runner, tok, docs, n_ctx, max_tokens):
    nll, nbytes, ntok = 0.0, 0, 0
    eot = tok.special['<|endoftext|>']
    for ids in doc_ids(tok, docs, max_tokens):
        nbytes += len(tok.decode_bytes(ids[1:]))
        ntok += len(ids) - 1
        half = n_ctx // 2
        start = 0
        scored = 1  # next position to score (index into ids)
        while scored < len(ids):
            s = max(0, scored - half) if start else 0
            win = ids[s:s + n_ctx]
            lg = runner.logits_all(win[:-1]) if len(win) > 1 else None
            lp = F.log_softmax(lg, -1)
            for j in range(scored - s - 1, len(win) - 1):
                nll -= float(lp[j, win[j + 1]])
            scored = s + len(win)
            start = 1
    return nll / math.log(2) / nbytes, nbytes, ntok


def bpb_ngram(ng, tok, docs, max_tokens):
    nll, nbytes, ntok = 0.0, 0, 0
    eot = tok.special['<|endoftext|>']
    for ids in doc_ids(tok, docs, max_tokens):
        nbytes += len(tok.decode_bytes(ids[1:]))
        ntok += len(ids) - 1
        for i in range(1, len(ids)):
            p = ng.dist(ids[max(0, i - ng.order + 1):i])[ids[i]]
            nll -= math.log(p)
    return nll / math.log(2) / nbytes


def line_overlap(train_path, docs, min_len=20):
    """Per held-out doc: fraction of its stripped lines longer than min_len that also occur in the training split
    (exact deduplication leaves near-copies: esm/cjs builds, .ts vs compiled .js, vendored modules)."""
    seen = set()
    with open(train_path) as f:
        for line in f:
            for x in json.loads(line)['text'].split('\n'):
                x = x.strip()
                if len(x) > min_len:
                    seen.add(x)
    out = []
    for d in docs:
        ls = [x.strip() for x in d['text'].split('\n') if len(x.strip()) > min_len]
        out.append(sum(x in seen for x in ls) / len(ls) if ls else 0.0)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', default=os.path.join(here, 'work', 'run', 'ckpt.pt'))
    ap.add_argument('--tok', default=os.path.join(here, 'work', 'tokenizer.json'))
    ap.add_argument('--heldout', default=os.path.join(here, 'work', 'corpus', 'heldout.jsonl'))
    ap.add_argument('--train-stream', default=os.path.join(here, 'work', 'data', 'train.u16'))
    ap.add_argument('--samples', type=int, default=200)
    ap.add_argument('--bpb-tokens', type=int, default=60000)
    ap.add_argument('--ngram', type=int, default=4)
    ap.add_argument('--prefix-chars', type=int, default=800)
    ap.add_argument('--suffix-chars', type=int, default=400)
    ap.add_argument('--max-new', type=int, default=32)
    ap.add_argument('--seed', type=int, default=2024)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--heal', action='store_true', help='token healing at the cursor (as the daemon does)')
    ap.add_argument('--fim-order', choices=('psm', 'spm'), default='spm', help='FIM prompt order the model was trained on')
    ap.add_argument('--skip-ngram', action='store_true')
    ap.add_argument('--skip-model', action='store_true')
    ap.add_argument('--train-corpus', default=os.path.join(here, 'work', 'corpus', 'train.jsonl'))
    ap.add_argument('--max-overlap', type=float, default=1.0,
                    help='keep only held-out files with at most this fraction of lines also found in training files')
    ap.add_argument('--json', default=None)
    ap.add_argument('--dump-cases', default=None,
                    help='write the cursor cases as JSON (for eval-daemon.ts, which asks the real daemon) and exit')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = Tokenizer.load(args.tok)
    docs = [json.loads(l) for l in open(args.heldout)]
    if args.max_overlap < 1.0:
        ov = line_overlap(args.train_corpus, docs)
        docs = [d for d, o in zip(docs, ov) if o <= args.max_overlap]
    rng = random.Random(args.seed)
    bpb_docs = docs[:]
    rng.shuffle(bpb_docs)
    cases = make_cases(docs, args.samples, args.seed, args.prefix_chars, args.suffix_chars)
    if args.dump_cases:
        with open(args.dump_cases, 'w') as f:
            json.dump([{'lang': c['lang'], 'prefix': c['prefix'], 'line': c['line'], 'next': c['next'],
                        'suffix': c['suffix_line']} for c in cases], f)
        return
    report = {'samples': args.samples, 'heldout_files': len(docs), 'max_overlap': args.max_overlap,
              'heldout_langs': {l: sum(d['lang'] == l for d in docs) for l in sorted({d['lang'] for d in docs})}}

    model, step = load_checkpoint(args.ckpt)
    runner = Runner(model)
    if not args.skip_model:
        t0 = time.time()
        bpb, nbytes, ntok = bpb_model(runner, tok, bpb_docs, model.c.n_ctx, args.bpb_tokens)
        report['model'] = {'step': step, 'bpb': bpb, 'bpb_bytes': nbytes, 'bpb_tokens': ntok}
        report['model'].update(run_tasks(runner.greedy, tok, cases, args.max_new, model.c.n_ctx, args.heal, args.fim_order))
        report['model']['seconds'] = time.time() - t0
        print(json.dumps(report), flush=True)

    if not args.skip_ngram:
        t0 = time.time()
        ng = NGram(np.fromfile(args.train_stream, dtype=np.uint16), args.ngram, tok.n_vocab)
        report['ngram'] = {'order': args.ngram, 'bpb': bpb_ngram(ng, tok, bpb_docs, args.bpb_tokens)}
        report['ngram'].update(run_tasks(ng.greedy, tok, cases, args.max_new, model.c.n_ctx, args.heal, args.fim_order))
        report['ngram']['seconds'] = time.time() - t0
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
