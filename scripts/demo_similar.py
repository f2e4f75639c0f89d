#!/usr/bin/env python3
"""`make demo`'s embedding example: which sentence of a small set is nearest to each query, by
the cosine of `bigbird embed`'s mean-pooled vectors (the CLI computes them; this only compares).

  python3 scripts/demo_similar.py --bigbird build/bigbird --model models/kjv-mlm
"""
import argparse
import json
import subprocess
import sys

import numpy as np

SENTENCES = [
    "The LORD is my shepherd; I shall not want.",
    "He maketh me to lie down in green pastures: he leadeth me beside the still waters.",
    "And the king of Egypt sent his army against the city, and they besieged it.",
    "And they smote the city with the edge of the sword, and burnt it with fire.",
    "In the beginning was the Word, and the Word was with God.",
    "And God said, Let there be light: and there was light.",
]
QUERIES = [
    "He shall feed his flock like a shepherd, and gather the lambs with his arm.",
    "And the armies of the king went up to battle against the city.",
]


def embed(args, texts):
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    out = subprocess.run([args.bigbird, "embed", "--model", args.model, "--input", "-", "--no-progress"],
                         input=lines, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr.strip() or "bigbird embed failed")
    v = np.array([json.loads(l) for l in out.stdout.splitlines()], dtype=np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bigbird", default="build/bigbird")
    ap.add_argument("--model", default="models/kjv-mlm")
    args = ap.parse_args()
    s, q = embed(args, SENTENCES), embed(args, QUERIES)
    for i, query in enumerate(QUERIES):
        sims = s @ q[i]
        print(f"query: {query}")
        for j in np.argsort(-sims)[:3]:
            print(f"  {sims[j]:.3f}  {SENTENCES[j]}")


if __name__ == "__main__":
    main()
