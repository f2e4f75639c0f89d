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
import math
import os
import subprocess
import sys

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
    W, H, M = 460, 320, 56
    colors = {"block_sparse": "#1f77b4", "original_full": "#d62728"}
    ok = [dict(r, peak_rss_mib=r["peak_rss_bytes"] / 2**20) for r in rows if "error" not in r]
    if not ok:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    xs = [r["seq_len"] for r in ok]
    lx0, lx1 = math.log2(min(xs)), math.log2(max(xs))
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{2 * W}' height='{H + 30}' font-family='sans-serif' "
             f"font-size='11'><rect width='100%' height='100%' fill='white'/>",
             f"<text x='{W}' y='16' text-anchor='middle' font-size='13'>{title}</text>"]
    for panel, (key, label, logy) in enumerate([("median_s", "seconds per pass", True), ("peak_rss_mib", "peak RSS MiB", False)]):
        ox = panel * W
        ys = [r[key] for r in ok]
        f = (lambda v: math.log10(v)) if logy else (lambda v: v)
        y0, y1 = (math.floor(f(min(ys))), math.ceil(f(max(ys)))) if logy else (0.0, max(ys) * 1.1)
        y1 = y1 if y1 > y0 else y0 + 1

        def px(n):
            return ox + M + (math.log2(n) - lx0) / max(lx1 - lx0, 1e-9) * (W - 1.5 * M)

        def py(v):
            return 30 + (H - M) - (f(v) - y0) / (y1 - y0) * (H - M - 10)

        parts.append(f"<line x1='{ox + M}' y1='{30 + H - M}' x2='{ox + W - M / 2}' y2='{30 + H - M}' stroke='black'/>")
        parts.append(f"<line x1='{ox + M}' y1='40' x2='{ox + M}' y2='{30 + H - M}' stroke='black'/>")
        parts.append(f"<text x='{ox + 14}' y='{30 + (H - M) / 2}' transform='rotate(-90 {ox + 14} {30 + (H - M) / 2})' "
                     f"text-anchor='middle'>{label}</text>")
        for n in sorted(set(xs)):
            parts.append(f"<text x='{px(n):.1f}' y='{30 + H - M + 14}' text-anchor='middle'>{n // 1024}k</text>"
                         if n >= 1024 else f"<text x='{px(n):.1f}' y='{30 + H - M + 14}' text-anchor='middle'>{n}</text>")
        ticks = [10 ** e for e in range(int(y0), int(y1) + 1)] if logy else [y0 + i * (y1 - y0) / 4 for i in range(5)]
        for t in ticks:
            parts.append(f"<text x='{ox + M - 4}' y='{py(t) + 4:.1f}' text-anchor='end'>{t:g}</text>" if logy else f"<text x='{ox + M - 4}' y='{py(t) + 4:.1f}' text-anchor='end'>{t:.0f}</text>")
            parts.append(f"<line x1='{ox + M}' y1='{py(t):.1f}' x2='{ox + W - M / 2}' y2='{py(t):.1f}' stroke='#ddd'/>")
        parts.append(f"<text x='{ox + (W + M) / 2}' y='{30 + H - M + 30}' text-anchor='middle'>tokens</text>")
        for i, att in enumerate(sorted({r["attention"] for r in ok})):
            pts = sorted((r["seq_len"], r[key]) for r in ok if r["attention"] == att)
            path = " ".join(f"{px(n):.1f},{py(v):.1f}" for n, v in pts)
            c = colors.get(att, "#2ca02c")
            parts.append(f"<polyline points='{path}' fill='none' stroke='{c}' stroke-width='2'/>")
            parts += [f"<circle cx='{px(n):.1f}' cy='{py(v):.1f}' r='3' fill='{c}'/>" for n, v in pts]
            parts.append(f"<text x='{ox + M + 10}' y='{50 + 14 * i}' fill='{c}'>{att}</text>")
    parts.append("</svg>")
    return "\n".join(parts)


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
