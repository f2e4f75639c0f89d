#!/usr/bin/env python3
"""Is the MLM plateau the engine's or the model's? An independent PyTorch re-implementation.

The same post-LN BERT/BigBird encoder as experiments/kjv_mlm_config.json (4 layers, hidden 256, 4
heads, feed-forward 1024, gelu_new, LayerNorm eps 1e-12, tied decoder; full attention, as
`bigbird train` runs sequences of 128 tokens), HF's initialisation (normal 0.02, zero biases),
run_mlm's grouping into 128-token pieces, 15 % masking (80 / 10 / 10), AdamW with linear warmup
and decay, clipping at 1.0, no dropout, batch 8, written with plain torch (Debian's
python3-torch) and tokenised with our bindings. It logs the training loss every 25 steps, to set
beside `bigbird train` on the same file and flags:

  PYTHONPATH=build/python python3 experiments/mlm_plateau_torch.py --tokenizer data/kjv/tok \\
      --train-file mem.txt --steps 400
  build/bigbird train --config CONFIG_WITHOUT_DROPOUT --tokenizer data/kjv/tok --train-file mem.txt \\
      --max-seq-length 128 --per-device-train-batch-size 8 --max-steps 400 --learning-rate 5e-4 \\
      --warmup-steps 50 --logging-steps 25

Options --pos-sin S (sinusoidal position table times S) and --qk-std S (query/key weights drawn
with std S) try initialisations that might leave the plateau sooner.
"""
import argparse
import json
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import bigbird


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--train-file", required=True)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--pos-sin", type=float, default=0.0)
    ap.add_argument("--qk-std", type=float, default=0.0)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    L, B, V, H, NL, NH, FF = 128, 8, 8000, 256, 4, 4, 1024
    tok = bigbird.Tokenizer.from_pretrained(args.tokenizer)
    ids = []
    for d in open(args.train_file, encoding="utf-8").read().split("\n\n"):
        if d.strip():
            ids += tok(d)["input_ids"]
    ids = np.array(ids[: len(ids) // L * L]).reshape(-1, L)
    special = torch.tensor(sorted(tok.all_special_ids) if hasattr(tok, "all_special_ids") else [0, 1, 2, 3, 4, 5, 6])
    mask_id = tok("[MASK]", add_special_tokens=False)["input_ids"][0]

    class Layer(nn.Module):
        def __init__(s):
            super().__init__()
            s.q, s.k, s.v, s.o = (nn.Linear(H, H) for _ in range(4))
            s.ln1, s.ln2 = nn.LayerNorm(H, eps=1e-12), nn.LayerNorm(H, eps=1e-12)
            s.i, s.out = nn.Linear(H, FF), nn.Linear(FF, H)

        def forward(s, x):
            b, l, _ = x.shape
            sp = lambda t: t.view(b, l, NH, H // NH).transpose(1, 2)
            a = torch.softmax(sp(s.q(x)) @ sp(s.k(x)).transpose(-1, -2) / math.sqrt(H // NH), -1) @ sp(s.v(x))
            x = s.ln1(x + s.o(a.transpose(1, 2).reshape(b, l, H)))
            return s.ln2(x + s.out(F.gelu(s.i(x), approximate="tanh")))

    class Model(nn.Module):
        def __init__(s):
            super().__init__()
            s.w, s.p, s.t = nn.Embedding(V, H), nn.Embedding(4096, H), nn.Embedding(2, H)
            s.ln, s.tln = nn.LayerNorm(H, eps=1e-12), nn.LayerNorm(H, eps=1e-12)
            s.layers = nn.ModuleList([Layer() for _ in range(NL)])
            s.tr, s.bias = nn.Linear(H, H), nn.Parameter(torch.zeros(V))
            for m in s.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)

        def forward(s, x):
            h = s.ln(s.w(x) + s.p(torch.arange(x.shape[1]))[None] + s.t(torch.zeros_like(x)))
            for layer in s.layers:
                h = layer(h)
            return s.tln(F.gelu(s.tr(h), approximate="tanh")) @ s.w.weight.T + s.bias

    m = Model()
    with torch.no_grad():
        if args.pos_sin > 0:
            pos, i = torch.arange(4096)[:, None].float(), torch.arange(0, H, 2).float()
            ang = pos / torch.pow(10000, i / H)
            m.p.weight[:, 0::2], m.p.weight[:, 1::2] = torch.sin(ang) * args.pos_sin, torch.cos(ang) * args.pos_sin
        if args.qk_std > 0:
            for layer in m.layers:
                nn.init.normal_(layer.q.weight, std=args.qk_std)
                nn.init.normal_(layer.k.weight, std=args.qk_std)
    opt = torch.optim.AdamW(m.parameters(), lr=args.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / args.warmup if s < args.warmup else max(0.0, (args.steps - s) / max(1, args.steps - args.warmup)))
    rng, order = np.random.default_rng(0), []
    for step in range(1, args.steps + 1):
        if len(order) < B:
            order += list(rng.permutation(len(ids)))
        x = torch.tensor(ids[[order.pop() for _ in range(B)]])
        lab = torch.full_like(x, -100)
        sel = (torch.rand(x.shape) < 0.15) & ~torch.isin(x, special)
        lab[sel] = x[sel]
        r = torch.rand(x.shape)
        x = x.clone()
        x[sel & (r < 0.8)] = mask_id
        rnd = sel & (r >= 0.8) & (torch.rand(x.shape) < 0.5)
        x[rnd] = torch.randint(0, V, x.shape)[rnd]
        loss = F.cross_entropy(m(x).view(-1, V), lab.view(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 25 == 0:
            print(json.dumps({"step": step, "loss": round(loss.item(), 3), "grad_norm": round(gn.item(), 3)}), flush=True)


if __name__ == "__main__":
    main()
