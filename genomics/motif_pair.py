#!/usr/bin/env python3
"""Long-range genomic test: the label depends on two motifs far apart in an 8-30 kbp window.

Data (deterministic from --seed): windows of L bases, L uniform in [8000, 30000], cut from the E. coli
training genome (data/genomics/ecoli_train.fa). Two fixed motifs, X and Y, each three rare long pieces of
the BPE vocabulary in a row (30-42 bases, absent from the genome). Site A (starting uniformly in
[2000, L/2 - 600)) and site B (in [L/2, L - 600)) each get 8 copies of X or of Y, at random
non-overlapping places in the site's 600 bases: both X (label "pair", half the examples) or one X and one Y (label "single", a quarter
each way round). So a model that reads only one site is right 3/4 of the time at best, one that
reads neither 1/2, and only one that combines both sites can be right every time. Site A starts at
least 2 kbp (about 400 tokens) from [CLS].

Variants (same model, data, seed and steps; `bigbird train --config-overrides`):
  bigbird      HF's ITC layout: global first/last block, window 3, random blocks
  window_only  global_blocks=0, num_random_blocks=0: [CLS] sees 1 block further per layer

Tokenizer: BPE (bigbird tokenizer-train, 4096 pieces on the E. coli training genome, about 5
bases a token), so a window is 1,600-6,000 tokens. Model: genomics/dna_small_config.json (2 layers,
hidden 128) with 8192 positions and block 64, from scratch.

  python3 genomics/motif_pair.py --out data/motif_pair [--variants bigbird,window_only] [--steps 300]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
BIGBIRD = os.environ.get("BIGBIRD", os.path.join(ROOT, "build", "bigbird"))
COPIES, BAND = 8, 600  # a site: 8 copies of its motif within 600 bases
VARIANTS = {"bigbird": "", "window_only": "global_blocks=0,num_random_blocks=0"}


def read_fasta(path):
    with open(path) as f:
        return "".join(l.strip().upper() for l in f if not l.startswith(">"))


def run(cmd, log):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    with open(log, "a") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit(f"motif_pair: command failed ({r.returncode}), see {log}")


def pick_motifs(tok, genome, rng):
    """X and Y: each three of the BPE vocabulary's rarest long pieces (the last merges, 10-14 bases)
    in a row, absent from the genome, so that a motif is a few token ids that are rare in the
    background (as exp. 1's marker words are), not a pattern of common pieces."""
    with open(os.path.join(tok, "tokenizer.json")) as f:
        vocab = json.load(f)["model"]["vocab"]
    pieces = [p for p, i in sorted(vocab.items(), key=lambda kv: kv[1])
              if 10 <= len(p) <= 14 and set(p) <= set("ACGT")][-200:]
    rng.shuffle(pieces)
    motifs = {}
    for i in range(0, len(pieces) - 2, 3):
        m = "".join(pieces[i:i + 3])
        if m not in genome:
            motifs["XY"[len(motifs)]] = m
            if len(motifs) == 2:
                return motifs
    sys.exit("motif_pair: no motifs found")


def make_data(genome, n, rng, motifs):
    rows = []
    for i in range(n):
        L = rng.randint(8000, 30000)
        start = rng.randrange(0, len(genome) - L)
        s = list(genome[start:start + L])
        kind = rng.choice(["XX", "XX", "XY", "YX"])
        a = rng.randrange(2000, L // 2 - BAND)
        b = rng.randrange(L // 2, L - BAND)
        for site, m in ((a, kind[0]), (b, kind[1])):
            # COPIES copies of the motif at random places in a BAND-base stretch from the site
            width = len(motifs[m])
            for pos in sorted(rng.sample(range(0, BAND - width, width), COPIES)):
                s[site + pos:site + pos + width] = motifs[m]
        rows.append({"sequence": "".join(s), "label": "pair" if kind == "XX" else "single", "a": a, "b": b,
                     "length": L, "kind": kind})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genome", default=os.path.join(ROOT, "data", "genomics", "ecoli_train.fa"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--variants", default="bigbird,window_only")
    ap.add_argument("--train-examples", type=int, default=800)
    ap.add_argument("--validation-examples", type=int, default=200)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    genome = read_fasta(a.genome)
    tok = os.path.join(a.out, "tokenizer")
    log = os.path.join(a.out, "log.txt")
    if not os.path.exists(os.path.join(tok, "tokenizer.json")):
        run([BIGBIRD, "tokenizer-train", "--vocab-size", "4096", "--model-max-length", "8192", "--output-dir", tok,
             a.genome], log)
    motifs = pick_motifs(tok, genome, rng)
    train = make_data(genome, a.train_examples, rng, motifs)
    val = make_data(genome, a.validation_examples, rng, motifs)
    train_file, val_file = os.path.join(a.out, "train.jsonl"), os.path.join(a.out, "validation.jsonl")
    with open(train_file, "w") as f:
        for r in train:
            f.write(json.dumps({"sequence": r["sequence"], "label": r["label"]}) + "\n")
    with open(val_file, "w") as f:
        for r in val:
            f.write(json.dumps({"text": r["sequence"]}) + "\n")
    results = {"motifs": motifs, "steps": a.steps, "batch_size": a.batch_size, "train_examples": len(train),
               "validation_examples": len(val), "variants": {}}
    for name in a.variants.split(","):
        model = os.path.join(a.out, name)
        over = "vocab_size=4096,max_position_embeddings=8192,block_size=64"
        if VARIANTS[name]:
            over += "," + VARIANTS[name]
        t0 = time.time()
        run([BIGBIRD, "train", "--task", "text-classification", "--config", os.path.join(HERE, "dna_small_config.json"),
             "--tokenizer", tok, "--config-overrides", over, "--train-file", train_file, "--text-column", "sequence",
             "--max-seq-length", "8192", "--max-steps", str(a.steps), "--per-device-train-batch-size",
             str(a.batch_size), "--learning-rate", str(a.lr), "--warmup-steps", "30", "--logging-steps", "25",
             "--save-steps", "0", "--no-progress", "--seed", str(a.seed), "--threads", str(a.threads),
             "--output-dir", model], os.path.join(a.out, name + "_train.log"))
        t_train = time.time() - t0
        pred = os.path.join(a.out, name + "_pred.jsonl")
        run([BIGBIRD, "classify", "--model", model, "--input", val_file, "--output", pred, "--no-progress",
             "--threads", str(a.threads)], log)
        with open(pred) as f:
            answers = [json.loads(l) for l in f]
        by_kind = {}
        for r, p in zip(val, answers):
            ok = p[0]["label"] == r["label"]
            by_kind.setdefault(r["kind"], []).append(ok)
        acc = sum(sum(v) for v in by_kind.values()) / len(val)
        results["variants"][name] = {"accuracy": round(acc, 4), "train_seconds": round(t_train, 1),
                                     "by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())}}
        print(json.dumps({name: results["variants"][name]}), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
