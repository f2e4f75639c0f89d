#!/usr/bin/env python3
"""Does more context help masked-token prediction? (issue: long context, experiment 2)

The held-out text (documents separated by blank lines, e.g. data/kjv/valid.txt from
experiments/make_corpus_kjv.py) is tokenized and concatenated into one stream, as run_mlm's
group_texts does. A fixed, seeded 15 % of the stream's tokens is masked once. For each context
length c the stream is cut into consecutive pieces of c - 2 tokens, each run as [CLS] piece [SEP]
with its masked tokens replaced by [MASK]; every masked token is predicted once per c, so the
same tokens are scored at every length and only the context around them changes.

Reported per c: masked-token cross entropy (nats/token), bits per character (the summed
cross entropy in bits over the summed characters of the masked tokens), top-1 and top-5
accuracy; and the same for a unigram-frequency baseline (token frequencies of --train, add-one
smoothed), which sees no context at all. With --window-only the same weights also run with
global_blocks=0, num_random_blocks=0 (window attention only: a token sees at most one block to
each side), which shows how much of the gain comes through the global and random blocks. With --dtypes
f32,bf16,int8 the bigbird variant runs once per dtype (`--dtype` of the engine: bf16 / int8
projections on the CPU's matrix unit), and each non-f32 dtype also reports its top-1 agreement
with f32: the share of masked tokens whose highest-scoring prediction is the same token.

  PYTHONPATH=build/python python3 experiments/mlm_context.py --model models/kjv-mlm \\
      --valid data/kjv/valid.txt --train data/kjv/train.txt --contexts 128,512,1024,2048,4096
"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np


def documents(path):
    docs, cur = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                cur.append(line.rstrip("\n"))
            elif cur:
                docs.append("\n".join(cur))
                cur = []
    if cur:
        docs.append("\n".join(cur))
    return docs


def stream(tok, path):
    """Token ids and the character count of each token (from its offsets), all documents in order."""
    ids, chars = [], []
    for d in documents(path):
        e = tok(d, add_special_tokens=False)
        ids += e["input_ids"]
        chars += [max(1, b - a) for a, b in e["offsets"]]
    return np.array(ids, dtype=np.int64), np.array(chars, dtype=np.int64)


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def score(model, ids, masked, mask_id, cls_id, sep_id, c, threads, plan="zeros"):
    """Cross entropy (nats) and rank of the true token for every masked position, at context c."""
    piece = c - 2
    ce = np.zeros(len(ids))
    rank = np.zeros(len(ids), dtype=np.int64)
    top = np.full(len(ids), -1, dtype=np.int64)
    for s in range(0, len(ids), piece):
        seg = ids[s:s + piece].copy()
        m = masked[s:s + piece]
        if not m.any():
            continue
        seg[m] = mask_id
        x = np.concatenate([[cls_id], seg, [sep_id]]).astype(np.int64)[None, :]
        run = {"random_plan": plan, "seed": s} if plan == "seeded" else {"random_plan": plan}
        logits = model(input_ids=x, threads=threads, **run)["mlm_logits"][0, 1:-1]
        lp = log_softmax(logits[m].astype(np.float64))
        true = ids[s:s + piece][m]
        pos = np.nonzero(m)[0] + s
        ce[pos] = -lp[np.arange(len(true)), true]
        rank[pos] = (lp > lp[np.arange(len(true)), true][:, None]).sum(axis=1)
        top[pos] = lp.argmax(axis=1)
    return ce, rank, top


def summary(ce, rank, chars, masked):
    n = int(masked.sum())
    return {"tokens": n, "ce_nats": float(ce[masked].mean()),
            "bpc": float(ce[masked].sum() / math.log(2) / chars[masked].sum()),
            "top1": float((rank[masked] < 1).mean()), "top5": float((rank[masked] < 5).mean())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/kjv-mlm")
    ap.add_argument("--valid", default="data/kjv/valid.txt")
    ap.add_argument("--train", default="data/kjv/train.txt", help="for the unigram baseline's frequencies")
    ap.add_argument("--contexts", default="128,512,1024,2048,4096")
    ap.add_argument("--mask-prob", type=float, default=0.15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--window-only", action="store_true", help="also run the weights with window attention only")
    ap.add_argument("--random-plan", default="zeros", choices=("zeros", "hf", "seeded"),
                    help="the random blocks at evaluation: zeros (the inference default: every random block is "
                         "block 0), hf, or seeded (fresh draws per piece, as in training)")
    ap.add_argument("--dtypes", default="f32",
                    help="comma list of f32, bf16, int8: the bigbird variant once per dtype (others than f32 also "
                         "report top-1 agreement with f32, which then runs first)")
    ap.add_argument("--json", default="", help="also write the results here")
    args = ap.parse_args()
    dtypes = [d for d in args.dtypes.split(",") if d]
    if not dtypes or any(d not in ("f32", "bf16", "int8") for d in dtypes):
        sys.exit(f"error: --dtypes: '{args.dtypes}' is not a list of f32, bf16, int8")
    if dtypes != ["f32"]:
        dtypes = ["f32"] + [d for d in dtypes if d != "f32"]  # the reference of the agreement
    import bigbird

    tok = bigbird.Tokenizer.from_pretrained(args.model)
    special = tok("[MASK]", add_special_tokens=True)["input_ids"]  # [CLS] [MASK] [SEP]
    cls_id, mask_id, sep_id = special
    ids, chars = stream(tok, args.valid)
    train_ids, _ = stream(tok, args.train)
    vocab = json.load(open(os.path.join(args.model, "config.json")))["vocab_size"]
    rng = np.random.default_rng(args.seed)
    masked = rng.random(len(ids)) < args.mask_prob
    print(f"held-out stream: {len(ids)} tokens, {int(masked.sum())} masked (seed {args.seed}); "
          f"unigram counts from {len(train_ids)} training tokens", flush=True)

    freq = np.bincount(train_ids, minlength=vocab).astype(np.float64) + 1.0
    lp_uni = np.log(freq / freq.sum())
    order = np.argsort(-lp_uni, kind="stable")
    rank_of = np.empty(vocab, dtype=np.int64)
    rank_of[order] = np.arange(vocab)
    results = {"unigram": summary(-lp_uni[ids], rank_of[ids], chars, masked), "bigbird": {}, "window_only": {}}
    u = results["unigram"]
    print(f"unigram baseline: ce {u['ce_nats']:.3f} nats, {u['bpc']:.3f} bpc, top-1 {u['top1']:.3f}, "
          f"top-5 {u['top5']:.3f}", flush=True)

    variants = [("bigbird" if d == "f32" else f"bigbird_{d}", args.model, d) for d in dtypes]
    tmp = None
    if args.window_only:
        tmp = tempfile.mkdtemp(prefix="bigbird_window_only_")
        for f in os.listdir(args.model):
            os.symlink(os.path.abspath(os.path.join(args.model, f)), os.path.join(tmp, f))
        os.unlink(os.path.join(tmp, "config.json"))
        cfg = json.load(open(os.path.join(args.model, "config.json")))
        cfg.update({"global_blocks": 0, "num_random_blocks": 0})
        json.dump(cfg, open(os.path.join(tmp, "config.json"), "w"))
        variants.append(("window_only", tmp, "f32"))
    f32_top = {}
    try:
        for name, d, dtype in variants:
            model = bigbird.Model.from_pretrained(d, threads=args.threads, dtype=dtype)
            results.setdefault(name, {})
            for c in [int(x) for x in args.contexts.split(",") if x]:
                t0 = time.time()
                ce, rank, top = score(model, ids, masked, mask_id, cls_id, sep_id, c, args.threads, args.random_plan)
                r = summary(ce, rank, chars, masked)
                r["seconds"] = time.time() - t0
                agree = ""
                if name == "bigbird":
                    f32_top[c] = top
                elif dtype != "f32":
                    r["top1_agreement_with_f32"] = float((top[masked] == f32_top[c][masked]).mean())
                    agree = f", top-1 agreement with f32 {r['top1_agreement_with_f32']:.4f}"
                results[name][c] = r
                print(f"{name:11s} context {c:5d}: ce {r['ce_nats']:.3f} nats, {r['bpc']:.3f} bpc, "
                      f"top-1 {r['top1']:.3f}, top-5 {r['top5']:.3f}{agree} ({r['seconds']:.0f} s)", flush=True)
    finally:
        if tmp:
            shutil.rmtree(tmp)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
