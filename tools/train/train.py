#!/usr/bin/python3
"""Train the MoeCode qwen3moe-layout MoE model on work/data/train.u16.

Resumable: every --ckpt-every seconds (and at the end) the model, optimizer, step and config are saved
atomically to <out>/ckpt.pt; rerunning the same command resumes from it. Batches are drawn from a
generator seeded by (seed, step), so a resumed run sees the same data it would have seen.

Usage (see DATA_CARD.md for the command actually used):
  OMP_NUM_THREADS=1 nice -n 10 /usr/bin/python3 tools/train/train.py --steps 2000 --threads 1
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch

from model import Config, MoeModel


def lr_at(step, progress, peak, warmup, floor=0.1):
    """Linear warmup over `warmup` steps, then cosine from peak to floor*peak as progress goes 0 -> 1."""
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, max(0.0, progress))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


def batch(data, step, seed, B, T):
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, data.size - T - 1, size=B)
    x = np.stack([data[s:s + T + 1] for s in starts]).astype(np.int64)
    x = torch.from_numpy(x)
    return x[:, :-1], x[:, 1:]


def save(path, obj):
    tmp = path + '.tmp'
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.path.join(here, 'work', 'data', 'train.u16'))
    ap.add_argument('--out', default=os.path.join(here, 'work', 'run'))
    ap.add_argument('--steps', type=int, default=2000)
    ap.add_argument('--time-budget', type=float, default=0.0,
                    help='seconds of training (summed over resumes); if set, the run ends and the cosine schedule '
                         'completes at whichever of --steps or --time-budget comes first')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--warmup', type=int, default=100)
    ap.add_argument('--wd', type=float, default=0.1)
    ap.add_argument('--aux-coef', type=float, default=0.01)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--ckpt-every', type=float, default=300.0, help='seconds')
    ap.add_argument('--log-every', type=int, default=10)
    ap.add_argument('--config', default='{}', help='JSON overrides of model.Config')
    ap.add_argument('--init-from', default=None,
                    help='start a new run (new optimizer, schedule and --seed) from the weights and config of a '
                         'checkpoint, e.g. a finished run; ignored when --out already holds a checkpoint')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, 'ckpt.pt')
    log_path = os.path.join(args.out, 'train-log.jsonl')

    data = np.fromfile(args.data, dtype=np.uint16)
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        cfg = Config(**ck['config'])
        step = ck['step']
        elapsed = ck.get('elapsed', 0.0)
        print(f'resuming from step {step} ({elapsed:.0f}s trained)', flush=True)
    else:
        ck = None
        init = torch.load(args.init_from) if args.init_from else None
        cfg = Config(**(init['config'] if init else json.loads(args.config)))
        step, elapsed = 0, 0.0
    torch.manual_seed(args.seed)
    model = MoeModel(cfg)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.wd},
                             {'params': no_decay, 'weight_decay': 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    if ck:
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['opt'])
    elif init:
        model.load_state_dict(init['model'])
        print(f'initialised from {args.init_from} (step {init["step"]}); new optimizer and schedule', flush=True)
    total, active = model.n_params()
    print(f'config {cfg.to_dict()} params {total} active {active} data {data.size} tokens', flush=True)

    t_start = time.time()
    t_last_ckpt = t_start
    t_log = t_start
    tok_since = 0
    loss_acc = aux_acc = 0.0
    n_acc = 0

    def checkpoint():
        save(ckpt_path, {'model': model.state_dict(), 'opt': opt.state_dict(), 'step': step,
                         'config': cfg.to_dict(), 'args': vars(args),
                         'elapsed': elapsed + time.time() - t_start, 'warm_elapsed': ck_warm_elapsed})

    def progress():
        p = (step - args.warmup) / max(1, args.steps - args.warmup)
        if args.time_budget > 0:
            warm_t = ck_warm_elapsed if ck_warm_elapsed is not None else None
            t = elapsed + time.time() - t_start
            if warm_t is not None:
                p = max(p, (t - warm_t) / max(1.0, args.time_budget - warm_t))
            elif t >= args.time_budget:
                p = 1.0
        return p

    ck_warm_elapsed = ck.get('warm_elapsed') if ck else None
    model.train()
    while step < args.steps and progress() < 1.0:
        if step == args.warmup and ck_warm_elapsed is None:
            ck_warm_elapsed = elapsed + time.time() - t_start
        lr = lr_at(step, progress(), args.lr, args.warmup)
        for g in opt.param_groups:
            g['lr'] = lr
        x, y = batch(data, step, args.seed, args.batch, cfg.n_ctx)
        _, loss, aux, frac = model(x, y)
        (loss + args.aux_coef * aux).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        tok_since += x.numel()
        loss_acc += loss.item()
        aux_acc += aux.item()
        n_acc += 1
        if step % args.log_every == 0 or step == args.steps:
            now = time.time()
            rec = {'step': step, 'progress': round(progress(), 4), 'loss': loss_acc / n_acc, 'aux': aux_acc / n_acc, 'lr': lr,
                   'tok_s': tok_since / (now - t_log), 'elapsed': elapsed + now - t_start,
                   'max_expert_frac': float(frac.max())}
            print(json.dumps(rec), flush=True)
            with open(log_path, 'a') as f:
                f.write(json.dumps(rec) + '\n')
            t_log, tok_since, loss_acc, aux_acc, n_acc = now, 0, 0.0, 0.0, 0
        if time.time() - t_last_ckpt > args.ckpt_every:
            checkpoint()
            t_last_ckpt = time.time()
    checkpoint()
    print(f'done: {step} steps, {elapsed + time.time() - t_start:.0f}s', flush=True)


if __name__ == '__main__':
    main()
