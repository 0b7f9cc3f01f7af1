"""Side-by-side benchmark: leash-load against libcurl multi, Go net/http, Node undici and wrk
(the ceiling), all fetching from one nginx on 127.0.0.1 pinned to another core. Run through
bench/compare, which installs and builds everything first. Writes a markdown report."""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402

SERVER_CORE, CLIENT_CORE = 0, 1

# (label, path, expected bytes, C, tls, requests per run). The headline cases are answered from
# nginx's memory (`return 200`), where nginx has CPU to spare for every client but wrk; the
# file-served ones are kept, labelled, because that is what static-file servers look like.
CASES = [
    ("512 B, C=1", B.MEMORY, B.SMALL_BYTES, 1, False, 40000),
    ("512 B, C=16", B.MEMORY, B.SMALL_BYTES, 16, False, 200000),
    ("512 B, C=64", B.MEMORY, B.SMALL_BYTES, 64, False, 200000),
    ("512 B TLS, C=16", B.MEMORY, B.SMALL_BYTES, 16, True, 150000),
    ("1 MiB file, C=16", B.LARGE, B.LARGE_BYTES, 16, False, 4000),
    ("512 B file, C=16", B.SMALL, B.SMALL_BYTES, 16, False, 200000),
]


class Client:
    def __init__(self, name, argv_for, parse):
        self.name, self.argv_for, self.parse = name, argv_for, parse


def peer_argv(prefix):
    def argv(url, n, c, tls, cacert, expect_bytes, seconds):
        a = list(prefix) + ["-n", n, "-c", c, "--expect-status", 200, "--expect-bytes", expect_bytes]
        if tls:
            a += ["--cacert", cacert]
        return a + [url]
    return argv


def parse_peer(outcome, n):
    j = outcome.json()
    return {"requests": j["requests"], "ok": j["ok"], "rps": j["rps"]}


def leash_argv(binary):
    def argv(url, n, c, tls, cacert, expect_bytes, seconds):
        a = [binary, "-n", n, "-c", c, "--json"]
        if tls:
            a += ["--cacert", cacert]
        return a + [url]
    return argv


def parse_leash(outcome, n):
    j = outcome.json()
    ok = j["ok"] if j.get("status", {}).get("200") == j["requests"] else 0
    return {"requests": j["requests"], "ok": ok, "rps": j["rps"]}


def wrk_argv(url, n, c, tls, cacert, expect_bytes, seconds):
    return ["wrk", "-t1", "-c", c, "-d", "%ds" % max(1, round(seconds)), url]


def parse_wrk(outcome, n):
    m = re.search(r"(\d+) requests in", outcome.stdout)
    r = re.search(r"Requests/sec:\s+([\d.]+)", outcome.stdout)
    if not m or not r:
        raise RuntimeError("unexpected wrk output: " + outcome.stdout + outcome.stderr)
    requests = int(m.group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", outcome.stdout)
    errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", outcome.stdout)
    failed = int(bad.group(1)) if bad else 0
    if errors:
        failed += sum(int(g) for g in errors.groups())
    return {"requests": requests, "ok": requests - failed, "rps": float(r.group(1))}


def clients(bins):
    return [
        Client("leash", leash_argv(bins / "leash-load"), parse_leash),
        Client("libcurl multi", peer_argv([bins / "curl-peer"]), parse_peer),
        Client("Go net/http", peer_argv([bins / "go-peer"]), parse_peer),
        Client("undici", peer_argv(["node", B.REPO / "bench" / "peers" / "undici" / "peer.mjs"]), parse_peer),
        Client("wrk", wrk_argv, parse_wrk),
    ]


def run_cases(server, bins, runs, scale, log):
    results = {}  # (case label, client) -> list of samples
    cs = clients(bins)
    for rep in range(runs):
        for label, name, size, c, tls, n in CASES:
            n = max(c * 10, int(n * scale))
            # wrk runs for a fixed time; about as long as the others take.
            seconds = 3.0 * scale
            for client in cs:
                argv = client.argv_for(server.url(name, tls), n, c, tls, server.cacert, size, seconds)
                out = B.run_measured(argv, core=CLIENT_CORE, server=server)
                try:
                    parsed = client.parse(out, n)
                except Exception as e:  # keep going; the report shows the failure
                    log("  %s / %s: failed: %s" % (label, client.name, e))
                    continue
                per_request = 1e6 / max(1, parsed["requests"])
                sample = dict(parsed, cpu_us_per_req=out.cpu_s * per_request, peak_rss_kb=out.maxrss_kb,
                              user_us_per_req=out.user_s * per_request if out.user_s is not None else None,
                              server_busy=out.server_busy)
                if parsed["ok"] != parsed["requests"]:
                    log("  %s / %s: %d of %d requests failed" % (label, client.name,
                                                                 parsed["requests"] - parsed["ok"], parsed["requests"]))
                    sample["bad"] = True
                results.setdefault((label, client.name), []).append(sample)
                log("  run %d  %-18s %-14s %9.0f req/s %7.2f µs/req  server %3.0f %%" % (
                    rep + 1, label, client.name, sample["rps"], sample["cpu_us_per_req"], 100 * out.server_busy))
    return results


def summarize(samples):
    good = [s for s in samples if not s.get("bad")]
    if not good:
        return None
    return {
        "rps": B.median([s["rps"] for s in good]),
        "cpu": B.median([s["cpu_us_per_req"] for s in good]),
        "rss": B.median([s["peak_rss_kb"] for s in good]),
        "user": B.median([s["user_us_per_req"] for s in good if s.get("user_us_per_req") is not None]),
        "server": B.median([s["server_busy"] for s in good]),
        "runs": len(good),
        "failed_runs": len(samples) - len(good),
    }


# --- Deterministic and per-request measurements -------------------------------------------

def callgrind_per_request(argv_for, url, n1, n2):
    """Instructions per request: the difference between two runs of n1 and n2 requests, so
    start-up and shutdown cancel out."""
    totals = []
    for n in (n1, n2):
        out = B.run_measured(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
                             + argv_for(url, n), core=CLIENT_CORE, timeout=1200)
        m = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
        if not m:
            raise RuntimeError("callgrind output: " + out.stderr[-800:])
        totals.append(int(m.group(1)))
    return (totals[1] - totals[0]) / (n2 - n1)


def strace_per_request(argv_for, url, n1, n2):
    """System calls per request by name, from two runs (difference), under strace -f -c."""
    counts = []
    for n in (n1, n2):
        with tempfile.NamedTemporaryFile(suffix=".strace") as f:
            B.run_measured(["strace", "-f", "-c", "-o", f.name] + argv_for(url, n), core=CLIENT_CORE, timeout=600)
            table = {}
            for line in Path(f.name).read_text().splitlines():
                parts = line.split()
                if len(parts) >= 5 and re.match(r"^[\d.]+$", parts[0]) and parts[-1] != "total":
                    calls = int(parts[3])
                    table[parts[-1]] = calls
            counts.append(table)
    names = set(counts[0]) | set(counts[1])
    per = {k: (counts[1].get(k, 0) - counts[0].get(k, 0)) / (n2 - n1) for k in names}
    return {k: v for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.005}


def allocations_per_request(argv_for, url, n1, n2, preload):
    values = []
    for n in (n1, n2):
        with tempfile.NamedTemporaryFile(suffix=".alloc") as f:
            env = dict(os.environ, LD_PRELOAD=str(preload), COUNT_ALLOC_OUT=f.name)
            B.run_measured(argv_for(url, n), core=CLIENT_CORE, env=env)
            lines = [json.loads(x) for x in Path(f.name).read_text().splitlines() if x.strip()]
            # One line per process that exited (wrappers such as taskset exec, so one).
            values.append(sum(x["mallocs"] + x["callocs"] + x["reallocs"] for x in lines))
    return (values[1] - values[0]) / (n2 - n1)


def fixed(argv_fn):
    return lambda url, n: argv_fn(url, n, 16, False, None, B.SMALL_BYTES, 0)


# --- Report --------------------------------------------------------------------------------

def fmt(v, digits=0):
    if v is None or v != v:
        return "–"
    return ("{:,.%df}" % digits).format(v)


def report(results, extras, runs, meta):
    lines = []
    w = lines.append
    w("## Side-by-side run of %s" % meta["date"])
    w("")
    w("- Machine: %s" % meta["machine"])
    w("- nginx %s pinned to core %d; each client pinned to core %d (one io thread for leash, GOMAXPROCS from the affinity for Go)."
      % (meta["nginx"], SERVER_CORE, CLIENT_CORE))
    w("- leash %s (Release, g++ -O2), %s, %s, undici %s on Node %s, %s." % (
        meta["leash"], meta["curl"], meta["go"], meta["undici"], meta["node"], meta["wrk"]))
    w("- %d runs per cell, clients alternating within each run; medians. CPU is the client process's user+system time "
      "divided by its requests, start-up included; RSS is its peak (both measured by bench/tools/measure.c). "
      "Server CPU is nginx's user+system time over the client's run (start-up included), from /proc." % runs)
    w("- \"512 B\" is answered from nginx's memory (`return 200`); \"file\" cases are served from disk "
      "(open_file_cache, sendfile).")
    w("- A cell whose server core was at least %d %% busy is **server-bound**: its req/s is the server's limit, "
      "and a ratio involving it is marked \\* and claims nothing." % round(100 * B.SERVER_BOUND))
    w("")
    w("| case | client | req/s | CPU µs/req | user µs/req | peak RSS MiB | server CPU | leash req/s ÷ client "
      "| leash CPU ÷ client |")
    w("|---|---|--:|--:|--:|--:|--:|--:|--:|")
    bound = lambda s: s is not None and s["server"] >= B.SERVER_BOUND
    for label, *_ in CASES:
        base = results.get((label, "leash"))
        for name in ["leash", "libcurl multi", "Go net/http", "undici", "wrk"]:
            s = results.get((label, name))
            if not s:
                w("| %s | %s | failed | | | | | | |" % (label, name))
                continue
            mark = "\\*" if bound(s) or bound(base) else ""
            ratio = lambda key: "" if name == "leash" or not base else fmt(base[key] / s[key], 2) + mark
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                label, name, fmt(s["rps"]) + (" (server-bound)" if bound(s) else ""), fmt(s["cpu"], 2),
                fmt(s["user"], 2), fmt(s["rss"] / 1024, 1), "%.0f %%" % (100 * s["server"]),
                ratio("rps"), ratio("cpu")))
    w("")
    if "callgrind" in extras:
        cg = extras["callgrind"]
        w("**Instructions per request** (callgrind, 512 B from memory, C=16, difference of a %d- and a %d-request run): "
          "leash %s, libcurl multi %s, ratio %s." % (cg["n1"], cg["n2"], fmt(cg["leash"]), fmt(cg["curl"]),
                                                      fmt(cg["leash"] / cg["curl"], 2)))
        w("")
    if "alloc" in extras:
        a = extras["alloc"]
        w("**Heap allocations per request** (counting allocator, 512 B from memory, C=16, difference of two runs): "
          "leash %s, libcurl multi %s." % (fmt(a["leash"], 2), fmt(a["curl"], 2)))
        w("")
    if "strace" in extras:
        w("**System calls per request** (strace -f -c, 512 B from memory, C=16, difference of two runs):")
        w("")
        for name, table in extras["strace"].items():
            w("- %s: %s" % (name, ", ".join("%s %.2f" % kv for kv in list(table.items())[:8]) or "–"))
        w("")
    if "idle" in extras:
        w("**RSS per idle keep-alive connection** (leash-idle-conns, 1000 connections): " + ", ".join(
            "%s %s bytes" % (k, fmt(v.get("rss_per_conn_bytes"))) for k, v in extras["idle"].items()))
        w("")
    if "tls_setup" in extras:
        t = extras["tls_setup"]
        w("**TLS connection setup** (leash-tls-setup, sequential new connections): full handshake median %s µs "
          "(%s µs CPU), resumed %s µs (%s µs CPU): %s× faster (CPU %s×)." % (
              fmt(t["full"]["median_us"]), fmt(t["full"]["cpu_us_per_conn"]), fmt(t["resumed"]["median_us"]),
              fmt(t["resumed"]["cpu_us_per_conn"]), fmt(t.get("speedup_median"), 2), fmt(t.get("speedup_cpu"), 2)))
        w("")
    return "\n".join(lines) + "\n"


def versions(bins):
    leash_rev = subprocess.run(["git", "-C", str(B.REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                               text=True).stdout.strip() or "?"
    undici = "?"
    try:
        undici = json.loads((B.REPO / "bench/peers/undici/node_modules/undici/package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        pass
    curl = B.tool_version(["curl-config", "--version"])
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    return {
        "leash": leash_rev, "curl": curl, "go": B.tool_version(["go", "version"]).replace("go version ", ""),
        "undici": undici, "node": B.tool_version(["node", "--version"]), "nginx": nginx,
        "wrk": (B.tool_version(["wrk", "--version"]) or "wrk").split(" [")[0],
        "machine": B.machine_description(), "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def update_readme(readme, text):
    begin, end = "<!-- compare-results -->", "<!-- /compare-results -->"
    body = readme.read_text()
    if begin not in body or end not in body:
        raise RuntimeError("%s lacks the %s ... %s markers" % (readme, begin, end))
    head, rest = body.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + begin + "\n" + text + end + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bins", required=True, type=Path, help="directory with leash-load, curl-peer, go-peer, ...")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every request count (0.1 for a quick try)")
    ap.add_argument("--out", type=Path, required=True, help="markdown report to write")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument("--skip-extras", action="store_true", help="only the side-by-side table")
    ap.add_argument("--update-readme", type=Path, help="replace the marked results section of this file")
    args = ap.parse_args()
    log = lambda s: print(s, file=sys.stderr, flush=True)
    bins = args.bins.resolve()
    if (bins / "measure").exists():
        B.MEASURE = bins / "measure"
    meta = versions(bins)
    extras = {}
    with B.Nginx(core=SERVER_CORE) as server:
        log("nginx on ports %d/%d; %d runs" % (server.port, server.tls_port, args.runs))
        raw = run_cases(server, bins, args.runs, args.scale, log)
        results = {k: summarize(v) for k, v in raw.items()}
        results = {k: v for k, v in results.items() if v}
        if not args.skip_extras:
            cs = {c.name: c for c in clients(bins)}
            url = server.url(B.MEMORY)
            n1, n2 = 2000, max(4000, int(12000 * min(1.0, args.scale * 4)))
            log("callgrind ...")
            extras["callgrind"] = {
                "n1": n1, "n2": n2,
                "leash": callgrind_per_request(fixed(cs["leash"].argv_for), url, n1, n2),
                "curl": callgrind_per_request(fixed(cs["libcurl multi"].argv_for), url, n1, n2),
            }
            log("strace ...")
            extras["strace"] = {name: strace_per_request(fixed(cs[name].argv_for), url, n1, n2 * 2)
                                for name in ["leash", "libcurl multi", "Go net/http"]}
            preload = bins / "libcount_alloc.so"
            if preload.exists():
                log("allocations ...")
                extras["alloc"] = {
                    "leash": allocations_per_request(fixed(cs["leash"].argv_for), url, n1, n2 * 2, preload),
                    "curl": allocations_per_request(fixed(cs["libcurl multi"].argv_for), url, n1, n2 * 2, preload),
                }
            if (bins / "leash-idle-conns").exists():
                log("idle connections ...")
                extras["idle"] = {}
                for label, tls in (("plain", False), ("TLS", True)):
                    argv = [bins / "leash-idle-conns", "-k", 1000]
                    if tls:
                        argv += ["--cacert", server.cacert]
                    out = B.run_measured(argv + [server.url(B.MEMORY, tls)], core=CLIENT_CORE)
                    extras["idle"][label] = out.json()
            if (bins / "leash-tls-setup").exists():
                log("TLS setup ...")
                out = B.run_measured([bins / "leash-tls-setup", "-n", max(50, int(500 * args.scale)), "--cacert",
                                      server.cacert, server.url(B.MEMORY, True)], core=CLIENT_CORE)
                extras["tls_setup"] = out.json()
    text = report(results, extras, args.runs, meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.json_out:
        args.json_out.write_text(json.dumps({"meta": meta, "results": {"%s|%s" % k: v for k, v in results.items()},
                                             "extras": extras}, indent=1, default=str))
    if args.update_readme:
        update_readme(args.update_readme, text)
    print(text)


if __name__ == "__main__":
    main()
