#!/usr/bin/env python3
"""Experiment 3 (issue: long context): long-document classification, truncated to 512 tokens
against BigBird reading the whole document at up to 4,096.

Task: the division of the Bible a King James chapter comes from, read from the chapter's text
alone (no title, no verse numbers). Eight classes, by book:

  law (Genesis-Deuteronomy), history (Joshua-Esther), poetry (Job-Song of Solomon),
  major_prophets (Isaiah-Daniel), minor_prophets (Hosea-Malachi), gospels_acts (Matthew-Acts),
  epistles (Romans-Jude), revelation

Data: the 1,189 chapters from Debian's `bible-kjv-text` (experiments/make_corpus_kjv.py's reader);
every 5th chapter in Bible order is a test chapter (237), the others train (952). A chapter is 810
tokens on average with the KJV SentencePiece vocabulary (median 761, longest 2,944), so 4,096
covers every chapter whole and 512 cuts three chapters in four. The test chapters include the 59
the demo model never saw (every 20th chapter, its held-out split); the other test chapters were
part of its unlabelled pretraining text, so accuracy is also reported on those 59 alone.

Variants, all fine-tuned from the same pretrained checkpoint (default models/kjv-mlm) with the same
seed, steps and hyper-parameters (`bigbird train --task text-classification`):

  truncated_512   trained and evaluated on each chapter's first 512 tokens (at 512 tokens the
                  model runs full attention, as HF's BigBird does below its sparse threshold:
                  this is the 512-token BERT/RoBERTa baseline of the paper)
  windows_512     the truncated_512 model run over the whole chapter in 512-token windows
                  (stride 128), class probabilities averaged (`classify --stride --aggregation mean`)
  bigbird_4096    trained and evaluated on whole chapters, block-sparse attention (ITC layout)

Also reported, as a reference for how much the extra text can tell: a bag-of-words logistic
regression on the same tokens, first 512 against all (numpy, no training randomness).

Reported: test accuracy overall, by chapter length in tokens (<= 512: the variants see the same
text; 513-1,024; > 1,024), on the 59 never-pretrained chapters, training wall time. One command:

  python3 experiments/long_docs.py --out data/long_docs_runs --json experiments/results/long_docs.json

The two trainings run side by side, one core each (--parallel, default: the number of cores;
--threads per training, default 1: a model's bits do not depend on it).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from xml.sax.saxutils import escape

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_util  # noqa: E402
from make_corpus_kjv import chapters, ensure_reader  # noqa: E402

DIVISIONS = [("law", 5), ("history", 12), ("poetry", 5), ("major_prophets", 5), ("minor_prophets", 12),
             ("gospels_acts", 5), ("epistles", 21), ("revelation", 1)]
BUCKETS = [("<=512", 0, 512), ("513-1024", 513, 1024), (">1024", 1025, 1 << 30)]


def fail(msg):
    sys.exit(f"long_docs: {msg}")


def run(cmd, log=None):
    return run_util.run(cmd, log, "long_docs")


def write_jsonl(path, rows):
    with open(path + ".tmp", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    os.replace(path + ".tmp", path)


def label_chapters(chs):
    """[{"text", "label", "chapter"}] from (title, [verse, ...]) in Bible order: the label is the
    division of the chapter's book, books counted by title changes (66 expected)."""
    books = []
    for title, _ in chs:
        m = re.match(r"^(.*) \d+$", title)
        if not m:
            fail(f"chapter title without a number: {title!r}")
        if not books or books[-1] != m.group(1):
            books.append(m.group(1))
    if len(books) != sum(n for _, n in DIVISIONS):
        fail(f"expected {sum(n for _, n in DIVISIONS)} books, got {len(books)}")
    division, i = {}, 0
    for name, n in DIVISIONS:
        for b in books[i:i + n]:
            division[b] = name
        i += n
    return [{"text": " ".join(v), "label": division[re.match(r"^(.*) \d+$", t).group(1)], "chapter": t}
            for t, v in chs]


def split_rows(rows, lengths, test_every, heldout_every):
    """Indices of the train and test rows (every test_every-th row, 1-based, is a test row); adds
    "tokens" and "pretrain_heldout" (every heldout_every-th row) to each row."""
    split = {"train": [], "test": []}
    for i, (r, n) in enumerate(zip(rows, lengths)):
        r["tokens"] = n
        r["pretrain_heldout"] = (i + 1) % heldout_every == 0
        split["test" if (i + 1) % test_every == 0 else "train"].append(i)
    return split


def build_data(bigbird, tokenizer, out, test_every, heldout_every):
    """train.jsonl / test.jsonl ({"text", "label", "chapter", "tokens", "pretrain_heldout"})."""
    ensure_reader()
    text = subprocess.run(["bible", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="100000")).stdout
    chs = chapters(text)
    if len(chs) != 1189:
        fail(f"expected the 1189 chapters of the KJV, got {len(chs)}")
    rows = label_chapters(chs)
    os.makedirs(out, exist_ok=True)
    # Token counts with the model's own tokenizer ([CLS] and [SEP] included).
    write_jsonl(os.path.join(out, "all.jsonl"), [{"text": r["text"]} for r in rows])
    toks = run([bigbird, "tokenize", "--model", tokenizer, "--input", os.path.join(out, "all.jsonl"), "--no-progress"])
    ids = [json.loads(l)["input_ids"] for l in toks.splitlines() if l.startswith("{")]
    if len(ids) != len(rows):
        fail(f"tokenize answered {len(ids)} lines for {len(rows)} chapters")
    split = split_rows(rows, [len(x) for x in ids], test_every, heldout_every)
    for name, idx in split.items():
        rs = [rows[i] for i in idx]
        write_jsonl(os.path.join(out, name + ".jsonl"), rs)
        counts = {d: sum(r["label"] == d for r in rs) for d, _ in DIVISIONS}
        print(f"{name}: {len(rs)} chapters, {sum(r['tokens'] for r in rs)} tokens, {counts}", file=sys.stderr)
    pick = lambda xs, k: [xs[i] for i in split[k]]
    return (pick(rows, "train"), pick(rows, "test"), os.path.join(out, "train.jsonl"),
            os.path.join(out, "test.jsonl"), pick(ids, "train"), pick(ids, "test"))


def bag_of_words(train_ids, ytr, test_ids, cut, vocab, classes, steps=400, lam=1e-4, lr=20.0):
    """Multinomial logistic regression on log(1 + count) of the first `cut` tokens (0: all), rows
    L2-normalised; full-batch gradient descent from zero (deterministic)."""
    def feats(ids):
        x = np.zeros((len(ids), vocab))
        for i, t in enumerate(ids):
            np.add.at(x[i], t[:cut] if cut else t, 1.0)
        x = np.log1p(x)
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    xtr, xte = feats(train_ids), feats(test_ids)
    y = np.eye(classes)[ytr]
    w, b = np.zeros((vocab, classes)), np.zeros(classes)
    for _ in range(steps):
        z = xtr @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        w -= lr * (xtr.T @ (p - y) / len(xtr) + lam * w)
        b -= lr * (p - y).mean(0)
    return (xte @ w + b).argmax(1)


def summarize(correct, test):
    r = {"accuracy": round(sum(correct) / len(correct), 4), "n": len(correct), "by_length": {}}
    for name, lo, hi in BUCKETS:
        sel = [c for c, t in zip(correct, test) if lo <= t["tokens"] <= hi]
        r["by_length"][name] = {"n": len(sel), "accuracy": round(sum(sel) / max(1, len(sel)), 4)}
    sel = [c for c, t in zip(correct, test) if t["pretrain_heldout"]]
    r["never_pretrained"] = {"n": len(sel), "accuracy": round(sum(sel) / max(1, len(sel)), 4)}
    return r


def predictions(out, n):
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("[")]
    if len(lines) != n:
        fail(f"classify answered {len(lines)} lines for {n} inputs")
    return [p[0]["label"] for p in lines]


COLOURS = {"bag_of_words_512": "#bbbbbb", "bag_of_words_all": "#777777", "truncated_512": "#d62728",
           "windows_512": "#ff9896", "bigbird_4096": "#1f77b4"}


def svg_bars(runs, title):
    """Grouped bars: test accuracy overall and per length bucket, one bar per variant, averaged over
    the runs (one results dict per seed)."""
    names = [n for n in COLOURS if all(n in r for r in runs)]
    groups = ["all"] + [b for b, _, _ in BUCKETS]

    def acc(name, g):
        vals = [r[name]["accuracy"] if g == "all" else r[name]["by_length"][g]["accuracy"] for r in runs]
        return sum(vals) / len(vals)
    n0 = runs[0][names[0]]
    W, H, M, bw = 720, 340, 60, 16
    gw = (W - 2 * M - 170) / len(groups)
    py = lambda v: H - M - v * (H - 2 * M)
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' font-family='sans-serif' font-size='11'>",
           "<rect width='100%' height='100%' fill='white'/>",
           f"<text x='{W / 2}' y='18' text-anchor='middle' font-size='13'>{escape(title)}</text>"]
    for i in range(6):
        y = i / 5
        out.append(f"<line x1='{M}' x2='{W - M - 170}' y1='{py(y):.1f}' y2='{py(y):.1f}' stroke='#ddd'/>"
                   f"<text x='{M - 6}' y='{py(y) + 4:.1f}' text-anchor='end'>{y:.1f}</text>")
    out.append(f"<text x='16' y='{H / 2}' transform='rotate(-90 16 {H / 2})' text-anchor='middle'>test accuracy</text>")
    for gi, g in enumerate(groups):
        x0 = M + gi * gw + (gw - bw * len(names)) / 2
        n = n0["n"] if g == "all" else n0["by_length"][g]["n"]
        label = "all chapters" if g == "all" else escape(f"{g} tokens")
        out.append(f"<text x='{x0 + bw * len(names) / 2:.1f}' y='{H - M + 16}' text-anchor='middle'>{label}</text>"
                   f"<text x='{x0 + bw * len(names) / 2:.1f}' y='{H - M + 30}' text-anchor='middle'>({n})</text>")
        for vi, name in enumerate(names):
            v = acc(name, g)
            out.append(f"<rect x='{x0 + vi * bw:.1f}' y='{py(v):.1f}' width='{bw - 2}' height='{py(0) - py(v):.1f}' "
                       f"fill='{COLOURS[name]}'/>")
    for vi, name in enumerate(names):
        y = M + 16 * vi
        out.append(f"<rect x='{W - M - 150}' y='{y - 9}' width='10' height='10' fill='{COLOURS[name]}'/>"
                   f"<text x='{W - M - 135}' y='{y}'>{name} {acc(name, 'all'):.3f}</text>")
    return "\n".join(out + ["</svg>"]) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bigbird", default=os.path.join(HERE, "..", "build", "bigbird"))
    ap.add_argument("--model", default=os.path.join(HERE, "..", "models", "kjv-mlm"),
                    help="pretrained checkpoint with its tokenizer (default models/kjv-mlm)")
    ap.add_argument("--out", default="data/long_docs_runs")
    ap.add_argument("--variants", default="truncated_512,windows_512,bigbird_4096")
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--learning-rate", default="1e-4")
    ap.add_argument("--warmup-steps", type=int, default=40)
    ap.add_argument("--long-length", type=int, default=4096)
    ap.add_argument("--short-length", type=int, default=512)
    ap.add_argument("--window-stride", type=int, default=128, help="tokens shared by consecutive windows_512 windows")
    ap.add_argument("--test-every", type=int, default=5)
    ap.add_argument("--heldout-every", type=int, default=20, help="the pretraining corpus's held-out rule")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--parallel", type=int, default=os.cpu_count() or 1, help="trainings side by side (default: the cores)")
    ap.add_argument("--threads", type=int, default=1, help="threads of each training (results do not depend on it)")
    ap.add_argument("--json", default="", help="also write the results here")
    ap.add_argument("--svg", default="", help="also draw accuracy by chapter length here")
    ap.add_argument("--plot-only", default="", help="no runs: draw these --json files' results (comma list: "
                    "the mean over them, e.g. one per seed) into --svg")
    args = ap.parse_args()
    if args.plot_only:
        if not args.svg:
            fail("--plot-only needs --svg")
        files = [f for f in args.plot_only.split(",") if f]
        runs = [json.load(open(f))["results"] for f in files]
        seeds = ", ".join(str(json.load(open(f))["args"]["seed"]) for f in files)
        with open(args.svg, "w") as f:
            f.write(svg_bars(runs, f"Division of a KJV chapter: truncated to 512 tokens against BigBird (seeds {seeds})"))
        return 0
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in ("truncated_512", "windows_512", "bigbird_4096"):
            fail(f"unknown variant '{v}' (known: truncated_512, windows_512, bigbird_4096)")
    if not os.path.exists(os.path.join(args.model, "config.json")):
        fail(f"no {args.model}/config.json")
    data = os.path.join(args.out, "data")
    train, test, train_file, test_file, tr_ids, te_ids = build_data(args.bigbird, args.model, data,
                                                                    args.test_every, args.heldout_every)
    results = {}

    # Bag-of-words reference.
    labels = [d for d, _ in DIVISIONS]
    vocab = json.load(open(os.path.join(args.model, "config.json")))["vocab_size"]
    ytr = np.array([labels.index(r["label"]) for r in train])
    for cut, name in ((args.short_length, f"bag_of_words_{args.short_length}"), (0, "bag_of_words_all")):
        pred = bag_of_words(tr_ids, ytr, te_ids, cut, vocab, len(labels))
        results[name] = summarize([labels[p] == t["label"] for p, t in zip(pred, test)], test)
        print(f"{name:18s} accuracy {results[name]['accuracy']:.3f}", flush=True)

    # Fine-tuning: one model per training length, side by side.
    lengths = {}
    if "truncated_512" in variants or "windows_512" in variants:
        lengths["short"] = args.short_length
    if "bigbird_4096" in variants:
        lengths["long"] = args.long_length
    jobs, train_s = {}, {}
    pending = list(lengths.items())
    while pending or jobs:
        while pending and len(jobs) < max(1, args.parallel):
            key, n = pending.pop(0)
            model = os.path.join(args.out, f"model_{n}")
            cmd = [args.bigbird, "train", "--task", "text-classification", "--model", args.model,
                   "--train-file", train_file, "--max-seq-length", str(n),
                   "--per-device-train-batch-size", str(args.batch_size), "--num-train-epochs", str(args.epochs),
                   "--learning-rate", args.learning_rate, "--warmup-steps", str(args.warmup_steps),
                   "--weight-decay", "0.01", "--logging-steps", "20", "--save-steps", "0", "--seed", str(args.seed),
                   "--threads", str(args.threads), "--no-progress", "--output-dir", model]
            print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
            log = open(model + ".train.log", "w")
            jobs[key] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), time.time(), log, model)
        time.sleep(2)
        for key in list(jobs):
            proc, t0, log, model = jobs[key]
            if proc.poll() is None:
                continue
            log.close()
            del jobs[key]
            if proc.returncode != 0:
                for p, _, _, _ in jobs.values():
                    p.kill()
                fail(f"training {model} failed ({proc.returncode}): see {model}.train.log")
            train_s[key] = round(time.time() - t0, 1)
            print(f"trained {model} in {train_s[key]:.0f} s", file=sys.stderr, flush=True)

    threads = str(max(1, args.parallel * args.threads))
    evals = {
        "truncated_512": ("short", ["--truncation", "true", "--max-length", str(args.short_length)]),
        "windows_512": ("short", ["--max-length", str(args.short_length), "--stride", str(args.window_stride),
                                  "--aggregation", "mean"]),
        "bigbird_4096": ("long", ["--truncation", "true", "--max-length", str(args.long_length)]),
    }
    for name in variants:
        key, flags = evals[name]
        model = os.path.join(args.out, f"model_{lengths[key]}")
        t0 = time.time()
        out = run([args.bigbird, "classify", "--model", model, "--input", test_file, "--top-k", "1",
                   "--threads", threads, "--no-progress"] + flags)
        pred = predictions(out, len(test))
        r = summarize([p == t["label"] for p, t in zip(pred, test)], test)
        r["train_seconds"] = train_s[key]
        r["eval_seconds"] = round(time.time() - t0, 1)
        results[name] = r
        print(f"{name:18s} accuracy {r['accuracy']:.3f}  " +
              "  ".join(f"{k}: {v['accuracy']:.3f} ({v['n']})" for k, v in r["by_length"].items()) +
              f"  never pretrained: {r['never_pretrained']['accuracy']:.3f}  (train {r['train_seconds']:.0f} s)",
              flush=True)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)
    if args.svg:
        with open(args.svg, "w") as f:
            f.write(svg_bars([results], f"Division of a KJV chapter (seed {args.seed})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
