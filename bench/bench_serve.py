#!/usr/bin/env python3
"""Load test of `bigbird serve` on loopback: requests/s, p50/p99 latency and peak RSS of the
server against the number of concurrent clients and the input length, next to the offline
throughput of `bigbird embed --input FILE.jsonl` on the same inputs.

Bounded: each (clients, length) point runs for --seconds (default 3) or --max-requests, the
server listens on 127.0.0.1 only, and everything stops by itself.

  python3 bench/bench_serve.py --bigbird build/bigbird --model models/tiny-mlm \
      --clients 1,4,16,64 --words 32,256 --seconds 3 [--threads N] [--json out.json]
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time


def words(n, salt):
    return " ".join(("Paris" if i % 3 == 0 else "river") for i in range(n)) + f" {salt}"


def rss_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_server(args):
    cmd = [args.bigbird, "serve", "--model", args.model, "--host", "127.0.0.1", "--port", "0",
           "--no-access-log", "--max-concurrent-requests", "1024"]
    if args.tokenizer:
        cmd += ["--tokenizer", args.tokenizer]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.time() + 60
    while port is None and time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("message") == "listening":
            port = j["port"]
    if port is None:
        proc.kill()
        sys.exit("bench_serve: the server did not start")
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()  # drain the log
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    sys.exit("bench_serve: the model did not load")


def load_point(port, pid, clients, texts, seconds, max_requests):
    lat, errors = [], [0]
    lock = threading.Lock()
    stop_at = time.time() + seconds
    count = [0]
    peak = [rss_kib(pid, "VmRSS")]

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        i = k
        while time.time() < stop_at:
            with lock:
                if count[0] >= max_requests:
                    return
                count[0] += 1
            body = json.dumps({"inputs": texts[i % len(texts)]})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/embed", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except OSError:
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            dt = time.perf_counter() - t0
            with lock:
                if ok:
                    lat.append(dt)
                else:
                    errors[0] += 1
            i += clients

    def sampler():
        while time.time() < stop_at + 0.5:
            peak[0] = max(peak[0], rss_kib(pid, "VmRSS"))
            time.sleep(0.05)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    s = threading.Thread(target=sampler, daemon=True)
    s.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3 if lat else float("nan")
    return {"clients": clients, "requests": len(lat), "errors": errors[0], "rps": len(lat) / wall,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "peak_rss_mib": peak[0] / 1024}


def offline(args, texts):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "in.jsonl")
        with open(path, "w") as f:
            for t in texts:
                f.write(json.dumps({"text": t}) + "\n")
        cmd = [args.bigbird, "embed", "--model", args.model, "--input", path, "--output", os.path.join(d, "out.jsonl"),
               "--no-progress"]
        if args.tokenizer:
            cmd += ["--tokenizer", args.tokenizer]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        return len(texts) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bigbird", default="build/bigbird")
    ap.add_argument("--model", default="models/tiny-mlm")
    ap.add_argument("--tokenizer", default="")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--clients", default="1,4,16,64")
    ap.add_argument("--words", default="32,256", help="input lengths (words) to try")
    ap.add_argument("--seconds", type=float, default=3.0, help="per point (at most 30)")
    ap.add_argument("--max-requests", type=int, default=2000, help="per point")
    ap.add_argument("--json", default="", help="also write the results here")
    args = ap.parse_args()
    args.seconds = min(args.seconds, 30.0)
    proc, port = start_server(args)
    results = []
    try:
        for n in [int(x) for x in args.words.split(",") if x]:
            texts = [words(n, i) for i in range(256)]
            off = offline(args, texts)
            for c in [int(x) for x in args.clients.split(",") if x]:
                r = load_point(port, proc.pid, c, texts, args.seconds, args.max_requests)
                r.update({"words": n, "offline_rps": off, "vs_offline": r["rps"] / off})
                results.append(r)
                print(f"words {n:5d} clients {c:3d}: {r['rps']:8.1f} req/s  p50 {r['p50_ms']:8.2f} ms  "
                      f"p99 {r['p99_ms']:8.2f} ms  peak RSS {r['peak_rss_mib']:7.1f} MiB  "
                      f"({r['vs_offline']:.2f}x offline {off:.1f}/s, {r['errors']} errors)", flush=True)
    finally:
        proc.terminate()
        try:
            status = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = -9
    print(f"server exit status after SIGTERM: {status}")
    print("\n| words | clients | req/s | p50 ms | p99 ms | peak RSS MiB | vs offline |\n|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['words']} | {r['clients']} | {r['rps']:.1f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['peak_rss_mib']:.1f} | {r['vs_offline']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
