#!/usr/bin/env python3
"""Training-step table: `bigbird bench --train` against length, as a Markdown table.

usage: bench_train.py [--bigbird build/bigbird] [--baseline OTHER_BIGBIRD] [--lengths 1024,2048,4096,8192]
                      [--repeats 3] [--long 16384]

Each length runs in its own process (fresh memory, peak RSS per length); lengths of 8k and more
run once. --long L adds a row at L tokens with --gradient-checkpointing. With --baseline, that
executable runs each length right after ours (alternating, same machine state) and the table gains
its step time and the ratio. The CPU and OpenBLAS core are printed above the table: name them
beside any number you quote.
"""
import argparse, json, subprocess, sys


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def run(exe, length, repeats, ckpt):
    cmd = [exe, "bench", "--shape", "base", "--train", "--seq-len", str(length), "--repeats", str(repeats), "--json"]
    if ckpt:
        cmd.append("--gradient-checkpointing")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed: {r.stderr.strip()[-300:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


_probe = {}


def b_probe(a):
    """One tiny run of the baseline, to see which fields it reports (cached)."""
    if "j" not in _probe:
        r = subprocess.run([a.baseline, "bench", "--shape", "small", "--train", "--seq-len", "128", "--layers", "1",
                            "--repeats", "1", "--json"], capture_output=True, text=True)
        _probe["j"] = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}
    return _probe["j"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bigbird", default="build/bigbird")
    ap.add_argument("--baseline")
    ap.add_argument("--lengths", default="1024,2048,4096,8192")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--long", type=int, default=16384)
    a = ap.parse_args()
    rows = [(int(n), False) for n in a.lengths.split(",") if n]
    if a.long:
        rows.append((a.long, True))
    head = "| tokens | checkpointing | step (s) | tokens/s | GFLOP/s | of GEMM | peak RSS |"
    sep = "|---:|:---:|---:|---:|---:|---:|---:|"
    if a.baseline:
        head += " baseline step (s) | speed-up |"
        sep += "---:|---:|"
    lines = []
    core = None
    for n, ckpt in rows:
        reps = a.repeats if n < 8192 else 1
        j = run(a.bigbird, n, reps, ckpt)
        core = j.get("blas_core")
        line = (f"| {n:,} | {'yes' if ckpt else 'no'} | {j['median_s']:.2f} | {j['tokens_per_s']:.0f} | "
                f"{j['gflops']:.1f} | {j['of_gemm']:.2f} | {j['peak_rss_bytes'] / 2**30:.1f} GiB |")
        if a.baseline:
            # A baseline without the untimed first step (no first_step_s) runs once more and its
            # first run, which also allocates, is dropped: both sides then time steady-state steps.
            b = run(a.baseline, n, reps if "first_step_s" in b_probe(a) else reps + 1, ckpt)
            bt = b["times_s"] if "first_step_s" in b else b["times_s"][1:]
            bm = sorted(bt)[len(bt) // 2]
            line += f" {bm:.2f} | {bm / j['median_s']:.2f}x |"
        lines.append(line)
        print(line, file=sys.stderr, flush=True)
    print(f"CPU: {cpu_name()}, OpenBLAS core {core}, gemm_gflops {j['gemm_gflops']:.0f} (last run)")
    print(head)
    print(sep)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
