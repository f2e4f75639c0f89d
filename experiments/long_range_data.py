#!/usr/bin/env python3
"""A long-range classification task on real text (issue: long context, experiment 1).

Each example is a run of consecutive verses of the KJV (data/kjv from make_corpus_kjv.py),
LEN words long (uniform in --min-words .. --max-words), into which K copies of one marker word are
inserted at random word positions in a band [d, d + --band) words from the start, d uniform in
0 .. --max-distance; the label says which of two marker words it was ("violet" -> 1, "azure" -> 0: words the KJV never uses).
The model reads the answer from [CLS], so it must carry information from the markers to the first
token: a window-only layout reaches only a few blocks from [CLS] per layer, BigBird's global
blocks reach everything in one layer. Each example records `distance` (d, in words), for
accuracy against distance.

Train and validation come from disjoint chapters (train.txt and valid.txt). Deterministic (--seed).

  python3 experiments/long_range_data.py --corpus data/kjv --out data/long_range
"""
import argparse
import json
import os
import random

MARKERS = {0: "azure", 1: "violet"}


def words_of(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split()


def make(words, n, rng, args):
    out = []
    for i in range(n):
        length = rng.randint(args.min_words, args.max_words)
        start = rng.randrange(0, len(words) - length)
        text = words[start:start + length]
        label = i % 2
        d = rng.randint(0, args.max_distance)
        positions = sorted(rng.sample(range(d, min(length, d + args.band)), args.markers))
        for p in reversed(positions):
            text.insert(p, MARKERS[label])
        out.append({"text": " ".join(text), "label": label, "distance": d})
    rng.shuffle(out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="data/kjv")
    ap.add_argument("--out", default="data/long_range")
    ap.add_argument("--train", type=int, default=600)
    ap.add_argument("--valid", type=int, default=400)
    ap.add_argument("--min-words", type=int, default=650)
    ap.add_argument("--max-words", type=int, default=700)
    ap.add_argument("--max-distance", type=int, default=500, help="largest start of the markers' band (words)")
    ap.add_argument("--band", type=int, default=100, help="the markers' band, in words")
    ap.add_argument("--markers", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    for name, n in (("train", args.train), ("valid", args.valid)):
        rows = make(words_of(os.path.join(args.corpus, name + ".txt")), n, rng, args)
        path = os.path.join(args.out, name + ".jsonl")
        with open(path, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        print(f"{path}: {len(rows)} examples, {sum(r['label'] for r in rows)} with label 1")


if __name__ == "__main__":
    main()
