#!/usr/bin/env python3
"""Sweep `bigbird bench` over sequence lengths and write a table and an SVG plot.

    scripts/bench_sweep.py [--bigbird build/bigbird] [--shape base] [--threads 0] [--repeats 3]
                           [--dtype f32[,bf16,int8]] [--layers N] [--sparse 1024,...,65536]
                           [--full 512,...,8192] [--out bench/results] [--name sweep] [--readme README.md]

Each length runs in a fresh process (`bigbird bench --json`, median of --repeats runs), so each
peak RSS is that length's own. Several --dtype values (f32, bf16, int8) give one row and one line
per (attention, dtype), the dtypes alternating per length, and each run also reports its matrix
unit and the unit's own GEMM rate measured in the same process (`bench --ceiling`). Writes
<out>/<name>.json, <out>/<name>.md (the table) and <out>/<name>.svg (seconds and peak memory
against tokens), and replaces the part of the README between <!-- bench-<name>:begin --> and
<!-- bench-<name>:end --> (appended when absent). Only the Python standard library is needed.
"""
import argparse
import json
import os
import subprocess
import sys

import svg_panels

SPARSE = [1024, 2048, 4096, 8192, 16384, 32768, 65536]
FULL = [512, 1024, 2048, 4096, 8192]


def markers(name):
    return f"<!-- bench-{name}:begin -->", f"<!-- bench-{name}:end -->"


def run(args, attention, n, dtype, ceiling=False):
    cmd = [args.bigbird, "bench", "--json", "--shape", args.shape, "--seq-len", str(n), "--attention", attention,
           "--repeats", str(args.repeats), "--threads", str(args.threads), "--dtype", dtype]
    if args.layers:
        cmd += ["--layers", str(args.layers)]
    if ceiling:
        cmd.append("--ceiling")
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"seq_len": n, "attention": attention, "dtype": dtype, "error": (p.stderr.strip() or "failed")[-200:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def series(r, by_dtype):
    return f"{r['attention']} {r.get('dtype', 'f32')}" if by_dtype else r["attention"]


def table(rows, by_dtype=False):
    head = "| attention | tokens | median s | min s | max s | tokens/s | ms per 1k tokens | GFLOP/s | peak RSS MiB |"
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if by_dtype:
        head = head.replace("| attention |", "| attention | dtype | unit |") + " unit's GEMM GFLOP/s | of it |"
        rule = rule.replace("|---|", "|---|---|---|", 1) + "---:|---:|"
    out = [head, rule]
    for r in rows:
        lead = f"| {r['attention']} |" + (f" {r.get('dtype', 'f32')} | {r.get('matrix_unit', '')} |" if by_dtype else "")
        if "error" in r:
            out.append(f"{lead} {r['seq_len']} | {r['error']} | | | | | | |" + (" | |" if by_dtype else ""))
            continue
        line = (f"{lead} {r['seq_len']} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} | "
                f"{r['tokens_per_s']:.0f} | {1e6 * r['median_s'] / r['seq_len']:.1f} | {r['gflops']:.1f} | "
                f"{r['peak_rss_bytes'] / 2**20:.0f} |")
        if by_dtype:
            line += f" {r.get('ceiling_gflops', 0):.0f} | {r.get('of_ceiling', 0):.2f} |"
        out.append(line)
    return "\n".join(out)


def svg(rows, title, by_dtype=False):
    """Two panels against tokens (log x): seconds per pass (log y) and peak RSS in MiB, one line per attention
    (and dtype)."""
    colors = {"block_sparse": "#1f77b4", "original_full": "#d62728", "block_sparse f32": "#1f77b4",
              "block_sparse bf16": "#ff7f0e", "block_sparse int8": "#2ca02c", "original_full f32": "#d62728",
              "original_full bf16": "#9467bd", "original_full int8": "#8c564b"}
    ok = [dict(r, peak_rss_mib=r["peak_rss_bytes"] / 2**20) for r in rows if "error" not in r]
    if not ok:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    parts = svg_panels.figure(2, title)
    for panel, (key, label, logy) in enumerate([("median_s", "seconds per pass", True), ("peak_rss_mib", "peak RSS MiB", False)]):
        p = svg_panels.Panel(panel, [r["seq_len"] for r in ok], [r[key] for r in ok], logy)
        p.axes(parts, label, "tokens", lambda n: f"{n // 1024}k" if n >= 1024 else str(n))
        for i, att in enumerate(sorted({series(r, by_dtype) for r in ok})):
            c = colors.get(att, "#7f7f7f")
            p.line(parts, [(r["seq_len"], r[key]) for r in ok if series(r, by_dtype) == att], c)
            p.legend(parts, i, att, c)
    return svg_panels.finish(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bigbird", default="build/bigbird")
    ap.add_argument("--shape", default="base")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="f32", help="comma list of f32, bf16, int8")
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--sparse", default=",".join(map(str, SPARSE)))
    ap.add_argument("--full", default=",".join(map(str, FULL)))
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--name", default="sweep", help="file names and README markers (bench-<name>)")
    ap.add_argument("--readme", default="README.md")
    args = ap.parse_args()
    dtypes = [d for d in args.dtype.split(",") if d]
    for d in dtypes:
        if d not in ("f32", "bf16", "int8"):
            sys.exit(f"error: --dtype: '{d}' is not f32, bf16 or int8")
    by_dtype = len(dtypes) > 1
    rows = []
    for attention, lens in (("block_sparse", args.sparse), ("original_full", args.full)):
        for n in [int(x) for x in lens.split(",") if x]:
            rows += [run(args, attention, n, d, ceiling=by_dtype) for d in dtypes]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
        json.dump(rows, f, indent=1)
    core = next((r for r in rows if "error" not in r), {})
    title = (f"bigbird bench, {args.shape}{f' ({args.layers} layers)' if args.layers else ''}, batch 1, "
             f"{'/'.join(dtypes)}, threads {args.threads or 'all'}, SIMD {core.get('simd', '?')}, "
             f"BLAS {core.get('blas_core', '?')}")
    md = table(rows, by_dtype)
    with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(args.out, f"{args.name}.svg"), "w") as f:
        f.write(svg(rows, title, by_dtype))
    rel = os.path.relpath(os.path.join(args.out, f"{args.name}.svg"),
                          os.path.dirname(os.path.abspath(args.readme)) or ".")
    BEGIN, END = markers(args.name)
    heading = "Benchmark sweep" if args.name == "sweep" else f"Benchmark sweep: {'/'.join(dtypes)}"
    section = f"{BEGIN}\n### {heading}\n\n{title} (median of {args.repeats}).\n\n{md}\n\n![{args.name}]({rel})\n{END}"
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
