#!/usr/bin/env python3
"""Fine-tune (or train from scratch) a DNA BigBird classifier with `bigbird train` and measure it
with `bigbird classify`: a train/test split, or k-fold cross-validation on a "fold" field.

  # splice junctions, from scratch, one token per base
  python3 genomics/finetune.py --train data/genomics/splice_train.jsonl --test data/genomics/splice_test.jsonl \
      --config genomics/dna_small_config.json --tokenizer models/dna-mlm --epochs 10 --out /tmp/splice
  # promoters, 10-fold cross-validation, from the pretrained model
  python3 genomics/finetune.py --folds data/genomics/promoters.jsonl --model models/dna-mlm --epochs 10 --out /tmp/prom

Prints one JSON line per run and the summary (accuracy, examples, wall time); --json writes it.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIGBIRD = os.environ.get("BIGBIRD", os.path.join(HERE, "..", "build", "bigbird"))


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def run(cmd, log):
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT)


def train_and_test(a, train_rows, test_rows, work):
    os.makedirs(work, exist_ok=True)
    train_file, test_file = os.path.join(work, "train.jsonl"), os.path.join(work, "test.jsonl")
    write_jsonl(train_file, [{"sequence": r["sequence"], "label": r["label"]} for r in train_rows])
    write_jsonl(test_file, [{"text": r["sequence"]} for r in test_rows])
    log = os.path.join(work, "log.txt")
    out = os.path.join(work, "model")
    cmd = [BIGBIRD, "train", "--task", "text-classification", "--train-file", train_file,
           "--text-column", "sequence", "--num-train-epochs", str(a.epochs),
           "--per-device-train-batch-size", str(a.batch_size), "--learning-rate", str(a.lr),
           "--warmup-steps", str(a.warmup), "--weight-decay", "0.01", "--max-seq-length", str(a.max_seq_length),
           "--logging-steps", "100", "--save-steps", "0", "--no-progress", "--seed", str(a.seed),
           "--threads", str(a.threads), "--output-dir", out]
    if a.config_overrides:
        cmd += ["--config-overrides", a.config_overrides]
    if a.model:
        cmd += ["--model", a.model]
    else:
        cmd += ["--config", a.config, "--tokenizer", a.tokenizer]
    t0 = time.time()
    run(cmd, log)
    t_train = time.time() - t0
    pred = os.path.join(work, "pred.jsonl")
    run([BIGBIRD, "classify", "--model", out, "--input", test_file, "--output", pred, "--no-progress",
         "--threads", str(a.threads)], log)
    answers = read_jsonl(pred)
    correct = sum(1 for r, p in zip(test_rows, answers) if p[0]["label"] == r["label"])
    return correct, len(test_rows), t_train


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train")
    ap.add_argument("--test")
    ap.add_argument("--folds", help="JSONL with a 'fold' field: k-fold cross-validation")
    ap.add_argument("--model", help="start from this checkpoint (e.g. the pretrained DNA MLM)")
    ap.add_argument("--config", help="from scratch: this config.json (with --tokenizer)")
    ap.add_argument("--tokenizer")
    ap.add_argument("--config-overrides", default="", help="passed to bigbird train, e.g. vocab_size=4096")
    ap.add_argument("--epochs", type=float, default=10)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--name", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--json")
    a = ap.parse_args()
    if not a.model and not (a.config and a.tokenizer):
        sys.exit("error: give --model, or --config and --tokenizer")
    t0 = time.time()
    if a.folds:
        rows = read_jsonl(a.folds)
        folds = sorted({r["fold"] for r in rows})
        correct = total = 0
        per_fold = []
        for k in folds:
            c, n, _ = train_and_test(a, [r for r in rows if r["fold"] != k], [r for r in rows if r["fold"] == k],
                                     os.path.join(a.out, f"fold{k}"))
            correct, total = correct + c, total + n
            per_fold.append(c / n)
            print(json.dumps({"fold": k, "accuracy": round(c / n, 4), "examples": n}), flush=True)
        result = {"accuracy": round(correct / total, 4), "examples": total, "folds": len(folds),
                  "per_fold": [round(x, 4) for x in per_fold]}
    else:
        c, n, t = train_and_test(a, read_jsonl(a.train), read_jsonl(a.test), a.out)
        result = {"accuracy": round(c / n, 4), "examples": n, "train_seconds": round(t, 1)}
    result.update(name=a.name, model=a.model, config=a.config, tokenizer=a.tokenizer, epochs=a.epochs,
                  lr=a.lr, batch_size=a.batch_size, seconds=round(time.time() - t0, 1))
    print(json.dumps(result), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
