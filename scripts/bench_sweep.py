#!/usr/bin/env python3
"""Sweep `bigbird bench` over sequence lengths and write a table and an SVG plot.

    scripts/bench_sweep.py [--bigbird build/bigbird] [--shape base] [--threads 0] [--repeats 3]
                           [--dtype f32] [--layers N] [--sparse 1024,...,65536] [--full 512,...,8192]
                           [--out bench/results] [--readme README.md]

Each length runs in a fresh process (`bigbird bench --json`, median of --repeats runs), so each
peak RSS is that length's own. Writes <out>/sweep.json, <out>/sweep.md (the table) and
<out>/sweep.svg (seconds and peak memory against tokens), and replaces the part of the
README between <!-- bench-sweep:begin --> and <!-- bench-sweep:end --> (appended when absent).
Only the Python standard library is needed.
"""
import argparse
import json
import os
import subprocess
import sys

import svg_panels

SPARSE = [1024, 2048, 4096, 8192, 16384, 32768, 65536]
FULL = [512, 1024, 2048, 4096, 8192]
BEGIN, END = "<!-- bench-sweep:begin -->", "<!-- bench-sweep:end -->"


def run(args, attention, n):
    cmd = [args.bigbird, "bench", "--json", "--shape", args.shape, "--seq-len", str(n), "--attention", attention,
           "--repeats", str(args.repeats), "--threads", str(args.threads), "--dtype", args.dtype]
    if args.layers:
        cmd += ["--layers", str(args.layers)]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"seq_len": n, "attention": attention, "error": (p.stderr.strip() or "failed")[-200:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def table(rows):
    out = ["| attention | tokens | median s | min s | max s | tokens/s | ms per 1k tokens | GFLOP/s | peak RSS MiB |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['attention']} | {r['seq_len']} | {r['error']} | | | | | | |")
            continue
        out.append(f"| {r['attention']} | {r['seq_len']} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} | "
                   f"{r['tokens_per_s']:.0f} | {1e6 * r['median_s'] / r['seq_len']:.1f} | {r['gflops']:.1f} | "
                   f"{r['peak_rss_bytes'] / 2**20:.0f} |")
    return "\n".join(out)


def svg(rows, title):
    """Two panels against tokens (log x): seconds per pass (log y) and peak RSS in MiB, one line per attention."""
    colors = {"block_sparse": "#1f77b4", "original_full": "#d62728"}
    ok = [dict(r, peak_rss_mib=r["peak_rss_bytes"] / 2**20) for r in rows if "error" not in r]
    if not ok:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    parts = svg_panels.figure(2, title)
    for panel, (key, label, logy) in enumerate([("median_s", "seconds per pass", True), ("peak_rss_mib", "peak RSS MiB", False)]):
        p = svg_panels.Panel(panel, [r["seq_len"] for r in ok], [r[key] for r in ok], logy)
        p.axes(parts, label, "tokens", lambda n: f"{n // 1024}k" if n >= 1024 else str(n))
        for i, att in enumerate(sorted({r["attention"] for r in ok})):
            c = colors.get(att, "#2ca02c")
            p.line(parts, [(r["seq_len"], r[key]) for r in ok if r["attention"] == att], c)
            p.legend(parts, i, att, c)
    return svg_panels.finish(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bigbird", default="build/bigbird")
    ap.add_argument("--shape", default="base")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--sparse", default=",".join(map(str, SPARSE)))
    ap.add_argument("--full", default=",".join(map(str, FULL)))
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--readme", default="README.md")
    args = ap.parse_args()
    rows = [run(args, "block_sparse", int(n)) for n in args.sparse.split(",") if n]
    rows += [run(args, "original_full", int(n)) for n in args.full.split(",") if n]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "sweep.json"), "w") as f:
        json.dump(rows, f, indent=1)
    core = next((r for r in rows if "error" not in r), {})
    title = (f"bigbird bench, {args.shape}{f' ({args.layers} layers)' if args.layers else ''}, batch 1, "
             f"{args.dtype}, threads {args.threads or 'all'}, SIMD {core.get('simd', '?')}, BLAS {core.get('blas_core', '?')}")
    md = table(rows)
    with open(os.path.join(args.out, "sweep.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(args.out, "sweep.svg"), "w") as f:
        f.write(svg(rows, title))
    rel = os.path.relpath(os.path.join(args.out, "sweep.svg"), os.path.dirname(os.path.abspath(args.readme)) or ".")
    section = f"{BEGIN}\n### Benchmark sweep\n\n{title} (median of {args.repeats}).\n\n{md}\n\n![sweep]({rel})\n{END}"
    text = open(args.readme).read() if os.path.exists(args.readme) else ""
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + ("\n\n" if text else "") + section + "\n"
    with open(args.readme, "w") as f:
        f.write(text)
    print(md)


if __name__ == "__main__":
    main()
