#!/usr/bin/env python3
"""Load test of `bigbird serve` on loopback: requests/s, p50/p99 latency and peak RSS of the
server against the number of concurrent clients and the input length, next to the offline
throughput of `bigbird embed --input FILE.jsonl` on the same inputs.

Bounded: each (clients, length) point runs for --seconds (default 3), longer when 8 rounds of
`clients` requests at the offline rate need more (at most 30 s: the requests still in flight when a
point ends are not counted), the server listens on 127.0.0.1 only, and everything stops by itself.

  python3 bench/bench_serve.py --bigbird build/bigbird --model models/tiny-mlm \
      --clients 1,4,16,64 --words 32,256 --seconds 3 [--threads N] [--json out.json]
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import svg_panels  # noqa: E402


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


def pinned(args, cmd):
    """`cmd` under `taskset -c --server-cpus` when given (the server and the offline runs)."""
    return ["taskset", "-c", args.server_cpus] + cmd if args.server_cpus else cmd


def start_server(args):
    cmd = [args.bigbird, "serve", "--model", args.model, "--host", "127.0.0.1", "--port", "0",
           "--no-access-log", "--max-concurrent-requests", "1024"]
    if args.tokenizer:
        cmd += ["--tokenizer", args.tokenizer]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.Popen(pinned(args, cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
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


WRK_SCRIPT = """
local bodies = {%s}
local reqs, i = {}, 0
init = function(args)
  for k, b in ipairs(bodies) do
    reqs[k] = wrk.format("POST", "/embed", {["Content-Type"] = "application/json"}, b)
  end
end
request = function()
  i = i %% #reqs + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%%d,"duration_us":%%d,"errors":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def load_point_wrk(port, pid, clients, texts, seconds):
    """The same load from wrk (C, epoll, one thread): the client costs far less CPU than Python's
    threads, which matters when client and server share 2 cores."""
    bodies = ", ".join("[==[" + json.dumps({"inputs": t}) + "]==]" for t in texts)
    peak = [rss_kib(pid, "VmRSS")]
    stop = [False]

    def sampler():
        while not stop[0]:
            peak[0] = max(peak[0], rss_kib(pid, "VmRSS"))
            time.sleep(0.05)

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % bodies)
        script = f.name
    s = threading.Thread(target=sampler, daemon=True)
    s.start()
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "120s",
                              "-s", script, f"http://127.0.0.1:{port}/embed"], check=True, capture_output=True,
                             text=True).stdout
    finally:
        stop[0] = True
        os.unlink(script)
    j = json.loads(next(l for l in out.splitlines() if l.startswith("WRK "))[4:])
    ok = j["requests"] - j["errors"]
    return {"clients": clients, "requests": ok, "errors": j["errors"], "rps": ok / (j["duration_us"] / 1e6),
            "p50_ms": j["p50_us"] / 1e3, "p99_ms": j["p99_us"] / 1e3, "peak_rss_mib": peak[0] / 1024}


def median_point(runs):
    """The median run by requests/s, its latencies the medians over the runs, the peak RSS the
    largest, the requests and errors summed."""
    med = lambda k: sorted(x[k] for x in runs)[len(runs) // 2]
    return {"clients": runs[0]["clients"], "requests": sum(x["requests"] for x in runs),
            "errors": sum(x["errors"] for x in runs), "rps": med("rps"), "p50_ms": med("p50_ms"),
            "p99_ms": med("p99_ms"), "peak_rss_mib": max(x["peak_rss_mib"] for x in runs), "repeats": len(runs)}


def offline(args, texts, repeats=3):
    """`bigbird embed --input FILE.jsonl` on the same inputs, without its start-up: the median over
    `repeats` of 3N / (t(4N inputs) - t(N inputs)), so model loading and process start cancel."""
    def timed(d, copies):
        path = os.path.join(d, f"in{copies}.jsonl")
        with open(path, "w") as f:
            for _ in range(copies):
                for t in texts:
                    f.write(json.dumps({"text": t}) + "\n")
        cmd = [args.bigbird, "embed", "--model", args.model, "--input", path, "--output", os.path.join(d, "out.jsonl"),
               "--no-progress"]
        if args.tokenizer:
            cmd += ["--tokenizer", args.tokenizer]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        t0 = time.perf_counter()
        subprocess.run(pinned(args, cmd), check=True)
        return time.perf_counter() - t0

    rates = []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(repeats):
            t1, t4 = timed(d, 1), timed(d, 4)
            rates.append(3 * len(texts) / max(t4 - t1, 1e-9))
    return sorted(rates)[len(rates) // 2]


def token_count(port, text):
    """Tokens the server encodes for `text` (/embed truncates to the model's max input length)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/tokenize", json.dumps({"inputs": text, "add_special_tokens": True}),
              {"Content-Type": "application/json"})
    n = len(json.loads(c.getresponse().read())[0])
    c.request("GET", "/info")
    return min(n, json.loads(c.getresponse().read())["max_input_length"])


def svg(results, title):
    """Two panels against concurrent clients (log x): requests/s (with the offline rate dashed) and
    p99 latency (log y), one colour per input length."""
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    lengths = sorted({r["words"] for r in results})
    parts = svg_panels.figure(2, title)
    for panel, (key, label, logy) in enumerate([("rps", "requests/s", False), ("p99_ms", "p99 latency (ms)", True)]):
        ys = [r[key] for r in results] + ([r["offline_rps"] for r in results] if key == "rps" else [])
        p = svg_panels.Panel(panel, [r["clients"] for r in results], ys, logy)
        p.axes(parts, label, "concurrent clients", str)
        for i, n in enumerate(lengths):
            c = palette[i % len(palette)]
            mine = [r for r in results if r["words"] == n]
            p.line(parts, [(r["clients"], r[key]) for r in mine], c)
            p.legend(parts, i, f"{mine[0]['tokens']} tokens", c)
            if key == "rps":
                p.hline(parts, mine[0]["offline_rps"], c)
        if key == "rps":
            p.legend(parts, 15, "dashed: offline bigbird embed", right=True)
    return svg_panels.finish(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bigbird", default="build/bigbird")
    ap.add_argument("--model", default="models/tiny-mlm")
    ap.add_argument("--tokenizer", default="")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--server-cpus", default="",
                    help="pin the server and the offline runs to these CPUs (taskset list, e.g. 0), the load "
                         "generator to the others, so that the client does not take the server's cores")
    ap.add_argument("--clients", default="1,4,16,64")
    ap.add_argument("--words", default="32,256", help="input lengths (words) to try")
    ap.add_argument("--seconds", type=float, default=3.0, help="per point (at most 30)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per point; the table shows medians (default 3)")
    ap.add_argument("--max-requests", type=int, default=2000, help="per point")
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                    help="load generator: wrk (Debian's wrk; auto picks it when installed) or Python threads")
    ap.add_argument("--json", default="", help="also write the results here")
    ap.add_argument("--svg", default="", help="also plot them here (requests/s and p99 against clients)")
    ap.add_argument("--title", default="", help="the plot's title (default: the model and the CPU)")
    args = ap.parse_args()
    args.seconds = min(args.seconds, 30.0)
    if args.server_cpus:  # the load generator (this process, wrk or the Python threads) on the other CPUs
        server = set()
        for part in args.server_cpus.split(","):
            lo, _, hi = part.partition("-")
            server.update(range(int(lo), int(hi or lo) + 1))
        rest = os.sched_getaffinity(0) - server
        if not rest or not shutil.which("taskset"):
            sys.exit(f"bench_serve: --server-cpus {args.server_cpus} leaves no CPU for the load generator "
                     "(or taskset is missing)")
        os.sched_setaffinity(0, rest)
        print(f"server and offline runs on CPUs {args.server_cpus}, load generator on {sorted(rest)}", flush=True)
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    print(f"load generator: {'wrk' if use_wrk else 'Python threads'}", flush=True)
    proc, port = start_server(args)
    results = []
    try:
        for n in [int(x) for x in args.words.split(",") if x]:
            texts = [words(n, i) for i in range(256)]
            tokens = token_count(port, texts[0])
            off = offline(args, texts, max(1, args.repeats))
            for c in [int(x) for x in args.clients.split(",") if x]:
                # A closed loop loses the requests in flight when a point ends (about one latency,
                # clients / rate): run each point for at least 8 such rounds (at most 30 s).
                seconds = max(args.seconds, min(30.0, 8.0 * c / off))
                runs = []
                for _ in range(args.repeats):
                    if use_wrk:
                        runs.append(load_point_wrk(port, proc.pid, c, texts, seconds))
                    else:
                        runs.append(load_point(port, proc.pid, c, texts, seconds, args.max_requests))
                r = median_point(runs)
                r.update({"words": n, "tokens": tokens, "offline_rps": off, "vs_offline": r["rps"] / off})
                results.append(r)
                print(f"words {n:5d} ({tokens} tokens) clients {c:3d}: {r['rps']:8.1f} req/s  p50 {r['p50_ms']:8.2f} ms  "
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
    print("\n| tokens | clients | req/s | p50 ms | p99 ms | peak RSS MiB | offline req/s | vs offline |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['tokens']} | {r['clients']} | {r['rps']:.1f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['peak_rss_mib']:.1f} | {r['offline_rps']:.1f} | {r['vs_offline']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.svg and results:
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        with open(args.svg, "w") as f:
            f.write(svg(results, args.title or f"bigbird serve, {os.path.basename(args.model.rstrip('/'))}, "
                                               f"{os.cpu_count()} x {cpu}"))


if __name__ == "__main__":
    main()
