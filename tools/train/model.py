"""qwen3moe-layout Mixture-of-Experts decoder in PyTorch, matching llama.cpp's qwen3moe graph:

  x = token_embd[ids]
  per block il:
    h = rms_norm(x) * attn_norm
    q, k, v = attn_q h, attn_k h, attn_v h            (GQA: n_head_kv <= n_head)
    q, k = rms_norm per head * attn_q_norm / attn_k_norm
    q, k = rope_neox(q), rope_neox(k)
    x = x + attn_output(softmax(q k^T / sqrt(hd) + causal) v)
    h = rms_norm(x) * ffn_norm
    p = softmax(ffn_gate_inp h); top-k experts; weights renormalised to sum 1
    x = x + sum_k w_k * down_k(silu(gate_k h) * up_k h)
  logits = output(rms_norm(x) * output_norm)          (output tied to token_embd when tie_embd)
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    n_vocab: int = 4096
    n_ctx: int = 512
    n_embd: int = 192
    n_layer: int = 4
    n_head: int = 4
    n_head_kv: int = 2
    head_dim: int = 48
    n_expert: int = 8
    n_expert_used: int = 2
    n_ff_exp: int = 384
    rope_freq_base: float = 10000.0
    rms_eps: float = 1e-6
    tie_embd: bool = True

    def to_dict(self):
        return asdict(self)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_neox(x, cos, sin):
    # x: [B, H, T, hd]; cos/sin: [T, hd/2]; NEOX: rotate first half with second half
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        E, hd = c.n_embd, c.head_dim
        self.attn_norm = nn.Parameter(torch.ones(E))
        self.wq = nn.Linear(E, c.n_head * hd, bias=False)
        self.wk = nn.Linear(E, c.n_head_kv * hd, bias=False)
        self.wv = nn.Linear(E, c.n_head_kv * hd, bias=False)
        self.wo = nn.Linear(c.n_head * hd, E, bias=False)
        self.q_norm = nn.Parameter(torch.ones(hd))
        self.k_norm = nn.Parameter(torch.ones(hd))
        self.ffn_norm = nn.Parameter(torch.ones(E))
        self.gate_inp = nn.Linear(E, c.n_expert, bias=False)
        X, Fw = c.n_expert, c.n_ff_exp
        self.w_gate = nn.Parameter(torch.randn(X, E, Fw) * 0.02)   # h @ w_gate[e]: [n, F]
        self.w_up = nn.Parameter(torch.randn(X, E, Fw) * 0.02)
        self.w_down = nn.Parameter(torch.randn(X, Fw, E) * 0.02 / math.sqrt(2 * c.n_layer))

    def attention(self, x, cos, sin):
        c = self.c
        B, T, _ = x.shape
        h = rms_norm(x, self.attn_norm, c.rms_eps)
        q = self.wq(h).view(B, T, c.n_head, c.head_dim).transpose(1, 2)      # [B, H, T, hd]
        k = self.wk(h).view(B, T, c.n_head_kv, c.head_dim).transpose(1, 2)   # [B, Hkv, T, hd]
        v = self.wv(h).view(B, T, c.n_head_kv, c.head_dim).transpose(1, 2)
        q = rope_neox(rms_norm(q, self.q_norm, c.rms_eps), cos, sin)
        k = rope_neox(rms_norm(k, self.k_norm, c.rms_eps), cos, sin)
        rep = c.n_head // c.n_head_kv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)   # head h uses kv head h // rep (llama.cpp GQA)
            v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(c.head_dim))     # [B, H, T, T]
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(mask, float('-inf')).softmax(-1)
        y = att @ v                                                          # [B, H, T, hd]
        y = y.transpose(1, 2).reshape(B, T, c.n_head * c.head_dim)
        return self.wo(y)

    def moe(self, x):
        c = self.c
        B, T, E = x.shape
        h = rms_norm(x, self.ffn_norm, c.rms_eps).reshape(-1, E)             # [n, E]
        logits = self.gate_inp(h)                                            # [n, X]
        probs = logits.softmax(-1)
        w, idx = probs.topk(c.n_expert_used, dim=-1)                         # [n, k]
        w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(h)
        flat_idx = idx.reshape(-1)
        flat_w = w.reshape(-1)
        tok = torch.arange(h.shape[0], device=h.device).repeat_interleave(c.n_expert_used)
        order = torch.argsort(flat_idx)
        counts = torch.bincount(flat_idx, minlength=c.n_expert).tolist()
        start = 0
        for e, n in enumerate(counts):
            if n == 0:
                continue
            sel = order[start:start + n]
            start += n
            t = tok[sel]
            he = h.index_select(0, t)                                        # [n_e, E]
            a = F.silu(he @ self.w_gate[e]) * (he @ self.w_up[e])            # [n_e, F]
            y = (a @ self.w_down[e]) * flat_w[sel].unsqueeze(1)              # [n_e, E]
            out.index_add_(0, t, y)
        # Switch-style load-balancing loss: X * sum_e f_e * P_e
        frac = torch.bincount(flat_idx, minlength=c.n_expert).float() / flat_idx.numel()
        aux = c.n_expert * (frac * probs.mean(0)).sum()
        return out.view(B, T, E), aux, frac

    def forward(self, x, cos, sin):
        x = x + self.attention(x, cos, sin)
        m, aux, frac = self.moe(x)
        return x + m, aux, frac


class MoeModel(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.tok_embd = nn.Embedding(c.n_vocab, c.n_embd)
        nn.init.normal_(self.tok_embd.weight, std=0.02)
        self.blocks = nn.ModuleList([Block(c) for _ in range(c.n_layer)])
        self.output_norm = nn.Parameter(torch.ones(c.n_embd))
        self.output = None if c.tie_embd else nn.Linear(c.n_embd, c.n_vocab, bias=False)
        for b in self.blocks:
            for lin in (b.wq, b.wk, b.wv, b.gate_inp):
                nn.init.normal_(lin.weight, std=0.02)
            nn.init.normal_(b.wo.weight, std=0.02 / math.sqrt(2 * c.n_layer))
        hd = c.head_dim
        inv = 1.0 / (c.rope_freq_base ** (torch.arange(0, hd, 2).float() / hd))
        self.register_buffer('inv_freq', inv, persistent=False)

    def rope(self, T, offset=0):
        pos = torch.arange(offset, offset + T).float()
        ang = torch.outer(pos, self.inv_freq)                                # [T, hd/2]
        return ang.cos(), ang.sin()

    def forward(self, ids, targets=None):
        B, T = ids.shape
        x = self.tok_embd(ids)
        cos, sin = self.rope(T)
        aux_total = 0.0
        fracs = []
        for b in self.blocks:
            x, aux, frac = b(x, cos, sin)
            aux_total = aux_total + aux
            fracs.append(frac)
        x = rms_norm(x, self.output_norm, self.c.rms_eps)
        w = self.tok_embd.weight if self.output is None else self.output.weight
        logits = x @ w.t()                                                   # [B, T, V]
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss, aux_total / len(self.blocks), torch.stack(fracs)

    def n_params(self):
        total = sum(p.numel() for p in self.parameters())
        c = self.c
        exp = c.n_layer * 3 * c.n_expert * c.n_embd * c.n_ff_exp
        active = total - exp + exp * c.n_expert_used // c.n_expert
        return total, active


def load_checkpoint(path):
    """(model in eval mode, training step) from a checkpoint written by train.py."""
    ck = torch.load(path, map_location='cpu')
    model = MoeModel(Config(**ck['config']))
    model.load_state_dict(ck['model'])
    model.eval()
    return model, ck['step']
