#!/usr/bin/env python3
"""A training step, ours against HF transformers + PyTorch, on this machine in one run.

usage: bench_train_hf.py [--bigbird build/bigbird] [--lengths 1024,4096] [--repeats 3] [--threads 2]
                         [--json OUT]

Both sides run the same step on the same shape: bigbird-roberta-base (12 layers, hidden 768, 12
heads, FFN 3072, vocab 50,358, block 64, r 3, gelu_new), batch 1, random weights, random token
ids, MLM labels on every 7th token (-100 elsewhere), dropout off (`bigbird bench --train` runs
without dropout), training mode (HF draws a fresh random plan per step), then clipping to norm 1.0
and an AdamW step (weight decay 0, ours and HF Trainer's default). Ours is `bigbird bench --shape base --train`;
HF's is BigBirdForMaskedLM(labels=...) -> loss.backward() -> clip_grad_norm_ -> torch.optim.AdamW.
Each side and length runs in its own process (its own peak RSS), ours and HF's alternating per
length; one untimed step first (it allocates the optimizer state), then the median of --repeats
steps.

Needs `torch` and `transformers` importable by this Python (Debian 12 packages torch 1.13 as
python3-torch but not transformers: install it with pip, or put a transformers source tree on
PYTHONPATH). The CPU, torch's version and BLAS, and transformers' version are printed with the
table: name them beside any number you quote.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_train import cpu_name  # noqa: E402


def hf_worker(length, repeats, threads, seed):
    """One HF training step setup in this process; prints one JSON line."""
    import torch
    import transformers
    from transformers import BigBirdConfig, BigBirdForMaskedLM

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    cfg = BigBirdConfig(vocab_size=50358, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=3072, hidden_act="gelu_new", max_position_embeddings=4096,
                        attention_type="block_sparse", block_size=64, num_random_blocks=3,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BigBirdForMaskedLM(cfg)
    model.train()
    # Weight decay 0 (ours and HF Trainer's default), so Trainer's decay groups change nothing: one group.
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, cfg.vocab_size, (1, length), generator=gen)
    labels = torch.full_like(ids, -100)
    labels[:, ::7] = ids[:, ::7]
    mask = torch.ones_like(ids)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss)

    t0 = time.perf_counter()
    first_loss = step()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    blas = "unknown"
    for line in torch.__config__.show().splitlines():
        if "BLAS_INFO" in line:
            blas = line.split("BLAS_INFO=")[1].split(",")[0]
    print(json.dumps({"seq_len": length, "median_s": statistics.median(times), "min_s": min(times),
                      "max_s": max(times), "first_step_s": first, "first_loss": first_loss,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "torch": torch.__version__, "torch_blas": blas,
                      "transformers": getattr(transformers, "__version__", "unknown"),
                      "transformers_path": os.path.dirname(transformers.__file__),
                      "threads": torch.get_num_threads()}))


def run_json(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-600:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bigbird", default=os.path.join(HERE, "..", "build", "bigbird"))
    ap.add_argument("--lengths", default="1024,4096")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="")
    ap.add_argument("--hf-worker", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.repeats < 1 or a.threads < 1:
        sys.exit("error: --repeats and --threads must be at least 1")
    if a.hf_worker:
        hf_worker(a.hf_worker, a.repeats, a.threads, a.seed)
        return 0
    probe = subprocess.run([sys.executable, "-c", "import torch, transformers; transformers.BigBirdForMaskedLM"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit("error: this Python cannot import torch and transformers.BigBirdForMaskedLM "
                 f"({probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else 'no message'}); "
                 "Debian 12 packages torch (python3-torch) but not transformers: pip install it, "
                 "or put its source tree on PYTHONPATH")
    try:
        lengths = [int(n) for n in a.lengths.split(",") if n]
    except ValueError:
        sys.exit(f"error: --lengths: '{a.lengths}' is not a comma list of integers")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    rows = []
    for n in lengths:
        ours = run_json([a.bigbird, "bench", "--shape", "base", "--train", "--seq-len", str(n), "--repeats",
                         str(a.repeats), "--threads", str(a.threads), "--json"])
        hf = run_json([sys.executable, os.path.abspath(__file__), "--hf-worker", str(n), "--repeats", str(a.repeats),
                       "--threads", str(a.threads), "--seed", str(a.seed)], env=env)
        rows.append({"seq_len": n, "ours": ours, "hf": hf, "speedup": hf["median_s"] / ours["median_s"]})
        print(f"{n}: ours {ours['median_s']:.2f} s, HF {hf['median_s']:.2f} s, {rows[-1]['speedup']:.2f}x",
              file=sys.stderr, flush=True)
    hf0 = rows[0]["hf"] if rows else {}
    print(f"CPU: {cpu_name()}; {a.threads} threads; torch {hf0.get('torch')} ({hf0.get('torch_blas')} BLAS); "
          f"transformers {hf0.get('transformers')} from {hf0.get('transformers_path')}")
    print("| tokens | ours step (s) | ours peak RSS | HF step (s) | HF peak RSS | ours faster |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['seq_len']:,} | {r['ours']['median_s']:.2f} | {r['ours']['peak_rss_bytes'] / 2**30:.1f} GiB | "
              f"{r['hf']['median_s']:.2f} | {r['hf']['peak_rss_bytes'] / 2**30:.1f} GiB | {r['speedup']:.2f}x |")
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump({"cpu": cpu_name(), "threads": a.threads, "repeats": a.repeats, "rows": rows}, f, indent=1)
        os.replace(a.json + ".tmp", a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
