#!/usr/bin/env python3
"""Experiment 1 (issue: long context): can the model read, from [CLS], words that sit far from it?

Data: experiments/long_range_data.py (KJV passages of 650-700 words, 12 copies of a marker word
"violet" (label 1) or "azure" (label 0) inserted in a 100-word band starting d words from the
start, d uniform in 0..500; train and validation from disjoint chapters). Tokenised with the KJV
SentencePiece vocabulary (experiments/train_kjv.sh, step 2), a passage is 850-1000 tokens.

Every variant is the same small BigBird classifier trained from scratch with the same data, seed
and steps (experiments/long_range_config.json: 2 layers, hidden 128, block 64); only the attention
layout differs (`bigbird train --config-overrides`):

  bigbird      HF's ITC layout: global first/last block, window 3, 3 random blocks
  window_only  global_blocks=0, num_random_blocks=0: [CLS] reaches 1 block further per layer
  etc          window only plus 2 ETC global tokens (num_global_tokens=2)
  full         attention_type=original_full

Training and evaluation cut each passage to its first 1024 tokens (a few run past it); evaluation
uses `classify`'s default random plan (zeros, as HF >= 4.30 in eval mode).

Reported: validation accuracy overall and by the markers' distance from [CLS] (d, in words),
training wall time. One command:

  python3 experiments/long_range.py --kjv data/kjv --out data/long_range_runs [--variants bigbird,window_only]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_util  # noqa: E402

VARIANTS = {
    "bigbird": "",
    "window_only": "global_blocks=0,num_random_blocks=0",
    "etc": "global_blocks=0,num_random_blocks=0,num_global_tokens=2",
    "full": "attention_type=original_full",
}
BUCKETS = [(0, 100), (100, 200), (200, 300), (300, 400), (400, 501)]


def run(cmd, log=None):
    return run_util.run(cmd, log, "long_range")


COLOURS = {"bigbird": "#1f77b4", "window_only": "#d62728", "etc": "#2ca02c", "full": "#7f7f7f"}


def svg_plot(results, title):
    """Accuracy against the markers' distance from [CLS] (bucket midpoints, linear axes)."""
    W, H, M = 700, 330, 60
    x0, x1, y0, y1 = 0, 500, 0.4, 1.0
    px = lambda x: M + (x - x0) / (x1 - x0) * (W - 3.2 * M)
    py = lambda y: H - M + (y0 - y) / (y1 - y0) * (H - 1.6 * M)
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' font-family='sans-serif' font-size='11'>",
           "<rect width='100%' height='100%' fill='white'/>",
           f"<text x='{W / 2}' y='18' text-anchor='middle' font-size='13'>{title}</text>"]
    for y in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        out.append(f"<line x1='{px(x0)}' x2='{px(x1)}' y1='{py(y)}' y2='{py(y)}' stroke='#ddd'/>"
                   f"<text x='{px(x0) - 6}' y='{py(y) + 4}' text-anchor='end'>{y:.1f}</text>")
    for x in range(0, 501, 100):
        out.append(f"<text x='{px(x)}' y='{py(y0) + 16}' text-anchor='middle'>{x}</text>")
    out.append(f"<text x='{(px(x0) + px(x1)) / 2}' y='{H - 14}' text-anchor='middle'>"
               "distance of the markers from [CLS] (words; bucket midpoints)</text>")
    out.append(f"<text x='14' y='{(py(y0) + py(y1)) / 2}' transform='rotate(-90 14 {(py(y0) + py(y1)) / 2})' "
               "text-anchor='middle'>validation accuracy</text>")
    for i, (name, r) in enumerate(results.items()):
        pts = []
        for k, v in r["by_distance"].items():
            lo, hi = (int(t) for t in k.split("-"))
            pts.append((px((lo + hi) / 2), py(v["accuracy"])))
        c = COLOURS.get(name, "#000")
        out.append(f"<polyline fill='none' stroke='{c}' stroke-width='2' points='" +
                   " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "'/>")
        out += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{c}'/>" for x, y in pts]
        out.append(f"<text x='{px(x1) + 6}' y='{py(0.55) + 14 * i}' fill='{c}'>{name} {r['accuracy']:.3f}</text>")
    return "\n".join(out + ["</svg>"]) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bigbird", default=os.path.join(here, "..", "build", "bigbird"))
    ap.add_argument("--kjv", default="data/kjv", help="make_corpus_kjv.py's output, with the tokenizer in tok/")
    ap.add_argument("--out", default="data/long_range_runs")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--train-examples", type=int, default=1000)
    ap.add_argument("--valid-examples", type=int, default=400)
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--learning-rate", default="5e-4")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default="", help="also write the results here")
    ap.add_argument("--svg", default="", help="also plot accuracy against distance here")
    ap.add_argument("--plot-only", default="", help="no runs: plot this --json file's results into --svg")
    args = ap.parse_args()
    if args.plot_only:
        with open(args.svg, "w") as f:
            f.write(svg_plot(json.load(open(args.plot_only))["results"], "Long range: marker words read from [CLS]"))
        return 0
    tok = os.path.join(args.kjv, "tok")
    if not os.path.exists(os.path.join(tok, "spiece.model")):
        sys.exit(f"long_range: no {tok}/spiece.model: run experiments/train_kjv.sh (steps 1-2) first")
    data = os.path.join(args.out, "data")
    run([sys.executable, os.path.join(here, "long_range_data.py"), "--corpus", args.kjv, "--out", data,
         "--train", str(args.train_examples), "--valid", str(args.valid_examples), "--seed", "0"])
    valid = [json.loads(l) for l in open(os.path.join(data, "valid.jsonl"))]
    results = {}
    for name in [v for v in args.variants.split(",") if v]:
        if name not in VARIANTS:
            sys.exit(f"long_range: unknown variant '{name}' (known: {', '.join(VARIANTS)})")
        model = os.path.join(args.out, name)
        cmd = [args.bigbird, "train", "--task", "text-classification", "--config",
               os.path.join(here, "long_range_config.json"), "--tokenizer", tok,
               "--train-file", os.path.join(data, "train.jsonl"), "--max-seq-length", "1024",
               "--per-device-train-batch-size", "8", "--num-train-epochs", str(args.epochs),
               "--learning-rate", args.learning_rate, "--warmup-steps", "30", "--weight-decay", "0.01",
               "--logging-steps", "25", "--save-steps", "0", "--seed", str(args.seed),
               "--threads", str(args.threads), "--no-progress", "--output-dir", model]
        if VARIANTS[name]:
            cmd += ["--config-overrides", VARIANTS[name]]
        t0 = time.time()
        run(cmd, log=model + ".train.log")
        train_s = time.time() - t0
        t0 = time.time()
        preds = run([args.bigbird, "classify", "--model", model, "--tokenizer", tok, "--input",
                     os.path.join(data, "valid.jsonl"), "--truncation", "true", "--top-k", "1", "--threads", str(args.threads),
                     "--no-progress"])
        eval_s = time.time() - t0
        # One line per input: [{"label": "1", "score": ...}] (--top-k 1; labels are the data's 0 / 1).
        lines = [json.loads(l) for l in preds.splitlines() if l.startswith("[")]
        assert len(lines) == len(valid), (len(lines), len(valid))
        correct = [int(p[0]["label"]) == ex["label"] for ex, p in zip(valid, lines)]
        r = {"accuracy": sum(correct) / len(correct), "train_seconds": round(train_s, 1),
             "eval_seconds": round(eval_s, 1), "by_distance": {}}
        for lo, hi in BUCKETS:
            sel = [c for c, ex in zip(correct, valid) if lo <= ex["distance"] < hi]
            r["by_distance"][f"{lo}-{hi - 1}"] = {"n": len(sel), "accuracy": sum(sel) / max(1, len(sel))}
        results[name] = r
        print(f"{name:12s} accuracy {r['accuracy']:.3f}  " +
              "  ".join(f"{k}: {v['accuracy']:.2f}" for k, v in r["by_distance"].items()) +
              f"  (train {train_s:.0f} s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    if args.svg:
        with open(args.svg, "w") as f:
            f.write(svg_plot(results, "Long range: marker words read from [CLS]"))


if __name__ == "__main__":
    sys.exit(main())
