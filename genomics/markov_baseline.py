#!/usr/bin/env python3
"""Bits per base of order-k Markov models on held-out genome: the baselines `bigbird score` is
measured against.

Two kinds, both trained on the training FASTA and evaluated on the held-out FASTA, with
additive (Krichevsky-Trofimov, +1/2) smoothing:
  - left:      p(x_i | x_{i-k} .. x_{i-1})                         (a classic order-k chain)
  - two-sided: p(x_i | k bases on the left, k bases on the right)  (what a masked LM sees, cut to 2k bases)
Only A/C/G/T positions whose context is all A/C/G/T are scored (E. coli 536 has no N).

  /usr/bin/python3 genomics/markov_baseline.py data/genomics/ecoli_train.fa data/genomics/ecoli_heldout.fa \
      --orders 0 1 2 3 4 5 6 8 10 12 --json genomics/results/markov.json
"""
import argparse
import gzip
import json
import math

import numpy as np

CODE = np.full(256, 4, dtype=np.int64)
for i, c in enumerate(b"ACGT"):
    CODE[c] = i


def read_fasta(path):
    opener = gzip.open if path.endswith(".gz") else open
    seq = []
    with opener(path, "rb") as f:
        for line in f:
            if not line.startswith(b">"):
                seq.append(line.strip().upper())
    return CODE[np.frombuffer(b"".join(seq), dtype=np.uint8)]


def context_ids(x, offsets):
    """For every position i, the context id of x[i + o] for o in offsets (base 4), or -1 where a
    context base is outside the sequence or not ACGT; and whether x[i] itself is scorable."""
    n = len(x)
    ids = np.zeros(n, dtype=np.int64)
    ok = x < 4
    for o in offsets:
        shifted = np.full(n, 4, dtype=np.int64)
        if o < 0:
            shifted[-o:] = x[:n + o]
        else:
            shifted[:n - o] = x[o:]
        ok &= shifted < 4
        ids = ids * 4 + np.where(shifted < 4, shifted, 0)
    return ids, ok


def bits_per_base(train, test, offsets):
    k = len(offsets)
    ids, ok = context_ids(train, offsets)
    counts = np.zeros((4 ** k, 4), dtype=np.float64)
    np.add.at(counts, (ids[ok], train[ok]), 1.0)
    counts += 0.5
    probs = counts / counts.sum(axis=1, keepdims=True)
    tids, tok = context_ids(test, offsets)
    p = probs[tids[tok], test[tok]]
    return float(-np.log2(p).mean()), int(tok.sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train")
    ap.add_argument("heldout")
    ap.add_argument("--orders", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5, 6, 8, 10, 12])
    ap.add_argument("--json")
    a = ap.parse_args()
    train, test = read_fasta(a.train), read_fasta(a.heldout)
    rows = []
    for k in a.orders:
        left, n = bits_per_base(train, test, list(range(-k, 0)))
        row = {"order": k, "left_bits_per_base": round(left, 4), "bases": n}
        if k % 2 == 0 and k <= 12:
            h = k // 2
            two, _ = bits_per_base(train, test, list(range(-h, 0)) + list(range(1, h + 1)))
            row["two_sided_bits_per_base"] = round(two, 4)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"train": a.train, "heldout": a.heldout, "train_bases": int(len(train)),
                       "heldout_bases": int(len(test)), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
