#!/usr/bin/python3
"""Markdown report for bench/run.sh: the table of every measurement and the
targets of the performance issue, each marked met or not met.
Usage: report.py ROWS.jsonl --translate LINE --ccr NOTE --cmd CMD ...
"""

import argparse
import datetime
import json
import os
import platform
import statistics


def fmt(v, nd=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return ("%." + str(nd) + "f") % v
    return str(v)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("rows")
    p.add_argument("--translate", default="")
    p.add_argument("--cc-translate", default="")
    p.add_argument("--translate-small", default="")
    p.add_argument("--translate-medium", default="")
    p.add_argument("--translate-answer", default="")
    p.add_argument("--ccr", default="")
    p.add_argument("--cmd", default="bench/run.sh")
    p.add_argument("--procs", default="?")
    p.add_argument("--threads", default="?")
    p.add_argument("--duration", default="?")
    p.add_argument("--total-rss-kb", default="0")
    p.add_argument("--load", default="?")
    p.add_argument("--load-end", default="?")
    a = p.parse_args()
    rows = [json.loads(line) for line in open(a.rows) if line.strip()]
    by = {(r["target"], r["workload"], r["conc"]): r for r in rows}

    def get(t, w, c):
        return by.get((t, w, c))

    out = []
    w = out.append
    w("# CCProxy benchmark, %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    w("")
    w("Host: %s, %s, %d CPUs. Command: `%s`. lighttpd %s processes x WORKER_THREADS=%s; "
      "%s s per wrk run; upstream: bench/mock_upstream (C, epoll) on 127.0.0.1. "
      "Load average (1, 5, 15 min) at the start: %s; at the end: %s (other test suites "
      "may share the machine)."
      % (platform.node(), platform.platform(), os.cpu_count(), a.cmd, a.procs, a.threads,
         a.duration, a.load, a.load_end))
    w("")
    w("CCProxy runs with the response cache (memcached + in-process LRU) and fan-out "
      "(ccproxy-coordd) on, as deployed. Every request of W1/W2/W3/W5 has its own body (a nonce "
      "in its first text), so none is a cache hit or coalesced; W4 and W6 send identical "
      "bodies. x-ccproxy-cache counts what the load_client requests of a row were told "
      "(wrk does not count headers).")
    w("")
    w("| target | workload | conc | requests | req/s | p50 ms | p99 ms | TTFB p50 ms | "
      "TTFB p99 ms | +p50 vs direct ms | worker CPU ms/req | lighttpd CPU ms/req | "
      "worker peak RSS MB | coordd peak RSS MB | upstream calls | upstream conns | errors | "
      "complete | x-ccproxy-cache |")
    w("|" + "---|" * 19)
    turns = [r for r in rows if r["target"].endswith("-turns")]
    for r in rows:
        if r in turns:
            continue  # their own table below
        d = get("direct", r["workload"], r["conc"])
        added = None
        if r["target"] != "direct" and d and d.get("p50_ms") is not None and \
                r.get("p50_ms") is not None:
            added = r["p50_ms"] - d["p50_ms"]
        cache = " ".join("%s=%d" % kv for kv in sorted(r.get("cache", {}).items())) or "-"
        w("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
          "| %s | %s |" % (
            r["target"], r["workload"], r["conc"], fmt(r.get("requests")), fmt(r.get("rps"), 0),
            fmt(r.get("p50_ms"), 3), fmt(r.get("p99_ms"), 3), fmt(r.get("ttfb_p50_ms"), 3),
            fmt(r.get("ttfb_p99_ms"), 3), fmt(added, 3), fmt(r.get("cpu_ms_per_req"), 3),
            fmt(r.get("web_cpu_ms_per_req"), 3), fmt(r.get("peak_rss_mb"), 1),
            fmt(r.get("coordd_rss_mb"), 1),
            fmt(r.get("upstream_calls")), fmt(r.get("upstream_conns")), fmt(r.get("errors")),
            fmt(r.get("complete")), cache))
    w("")
    w3 = [r for r in rows if r["target"] == "ccproxy" and r["workload"].startswith("W3")
          and r.get("worker_ttfb_p99_ms") is not None]
    if w3:
        w("Where W3's time to first byte goes: the client's figure against the workers' own "
          "(their request lines: from taking the request off the FastCGI socket to its first "
          "byte), and the span over which the workers took the 500 requests. What the client "
          "waits beyond the workers' figure is spent before a worker takes the request "
          "(lighttpd, and the FastCGI accept turn passing from thread to thread).")
        w("")
        w("| workload | client TTFB p50 / p99 ms | worker TTFB p50 / p99 ms | "
          "requests taken over ms |")
        w("|---|---|---|---|")
        for r in w3:
            w("| %s | %s / %s | %d / %d | %.0f |" % (
                r["workload"], fmt(r.get("ttfb_p50_ms"), 1), fmt(r.get("ttfb_p99_ms"), 1),
                r["worker_ttfb_p50_ms"], r["worker_ttfb_p99_ms"], r["worker_taken_over_ms"]))
        w("")
    bound = cpu_budget(w, get)
    c1_bound(w, get, a)
    turn_diffs = {}
    if turns:
        w("c=1 in turns with the floor: the rows above measure CCProxy, then the floor some "
          "minutes later, and a shared machine's speed drifts in between. Here the two took "
          "turns at c=1, round after round (each under its own lighttpd; CCProxy first in odd "
          "rounds, the floor first in even ones), so that each pair saw the same minute. "
          "p50 ms:")
        w("")
        w("| round | W1 small: CCProxy | floor | difference | W2 stream: CCProxy | floor | "
          "difference |")
        w("|---|---|---|---|---|---|---|")
        n = 1
        while get("ccproxy-turns", "W1 non-stream small, round %d" % n, 1):
            cells = []
            for wl in ("W1 non-stream small", "W2 stream 100 chunks"):
                c = get("ccproxy-turns", "%s, round %d" % (wl, n), 1)
                f = get("floor-turns", "%s, round %d" % (wl, n), 1)
                if c and f and c.get("p50_ms") is not None and f.get("p50_ms") is not None:
                    diff = c["p50_ms"] - f["p50_ms"]
                    turn_diffs.setdefault(wl, []).append(diff)
                    cells += [fmt(c["p50_ms"], 3), fmt(f["p50_ms"], 3), "%+.3f" % diff]
                else:
                    cells += ["-", "-", "-"]
            w("| %d | %s |" % (n, " | ".join(cells)))
            n += 1
        w("")
    w("claude-code-router: %s." % a.ccr)
    w("")
    ccr = [r for r in rows if r["target"] == "ccr"]
    if ccr:
        w("CCProxy beside claude-code-router, the same workloads against the same mock in "
          "this run (CCProxy with its cache and fan-out on; the ccr column measures its one "
          "Node.js process, the CCProxy one the ccproxy-fcgi workers):")
        w("")
        w("| workload | conc | req/s CCProxy / ccr | p50 ms CCProxy / ccr | "
          "+p50 vs direct ms CCProxy / ccr | TTFB p99 ms CCProxy / ccr | "
          "CPU ms/req CCProxy / ccr | peak RSS MB CCProxy / ccr | upstream calls CCProxy / ccr | "
          "errors ccr | complete ccr |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in ccr:
            c = get("ccproxy", r["workload"], r["conc"]) or {}
            d = get("direct", r["workload"], r["conc"]) or {}

            def pair(k, nd, rr=r, cc=c):
                return "%s / %s" % (fmt(cc.get(k), nd), fmt(rr.get(k), nd))

            added = []
            for x in (c, r):
                if x.get("p50_ms") is not None and d.get("p50_ms") is not None:
                    added.append(fmt(x["p50_ms"] - d["p50_ms"], 3))
                else:
                    added.append("-")
            w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["workload"] + (" (ccr exited during it)" if r.get("exited") else ""),
                r["conc"], pair("rps", 0), pair("p50_ms", 3),
                " / ".join(added), pair("ttfb_p99_ms", 1), pair("cpu_ms_per_req", 3),
                pair("peak_rss_mb", 1), pair("upstream_calls", 0), fmt(r.get("errors")),
                fmt(r.get("complete"))))
        w("")
    w("Request translation of the large body (bench/translate_bench): `%s`" % a.translate)
    w("")
    cc = []
    if a.cc_translate and os.path.exists(a.cc_translate):
        cc = [line.split(None, 1) for line in open(a.cc_translate) if line.strip()]
    if cc:
        w("Request translation of the largest captured Claude Code requests "
          "(../shared/claude-code/requests, bench/bodies/cc_requests.py):")
        w("")
        w("| capture | body bytes | tr_request us | allocations | count_tokens estimate us |")
        w("|---|---|---|---|---|")
        for name, line in cc:
            kv = kv_of(line)
            w("| %s | %s | %s | %s | %s |" % (name, kv.get("body_bytes", "?"), kv.get("tr_request_us", "?"),
                                             kv.get("tr_request_allocs", "?"), kv.get("count_tokens_us", "?")))
        w("")

    # ---- targets
    w("## Targets")
    w("")
    w("| target | measured | met |")
    w("|---|---|---|")

    def t(name, measured, ok):
        w("| %s | %s | %s |" % (name, measured, "yes" if ok else ("**no**" if ok is not None else "n/a")))

    for wl in ("W1 non-stream small", "W1 non-stream medium", "W1 non-stream large",
               "W2 stream 100 chunks"):
        c, f = get("ccproxy", wl, 32), get("floor", wl, 32)
        if c and f and f.get("rps"):
            ratio = c["rps"] / f["rps"]
            extra = ""
            if bound.get((wl, "ccproxy")) is not None:
                extra = (" (at most %.0f %% with workers as cheap as the floor's responder: "
                         "\"Where the CPU goes\")" % (bound[(wl, "ccproxy")] * 100))
            t("%s, c=32: >= 85 %% of the floor's req/s" % wl,
              "%.0f / %.0f = %.0f %%%s" % (c["rps"], f["rps"], ratio * 100, extra),
              ratio >= 0.85)
        c, f = get("ccproxy", wl, 1), get("floor", wl, 1)
        if c and f and c.get("p50_ms") is not None and f.get("p50_ms") is not None:
            diff = c["p50_ms"] - f["p50_ms"]
            t("%s, c=1: p50 within 0.10 ms of the floor's" % wl,
              "%.3f - %.3f = %+.3f ms" % (c["p50_ms"], f["p50_ms"], diff), diff <= 0.10)
        diffs = turn_diffs.get(wl, [])
        if diffs:
            med = statistics.median(diffs)
            t("%s, c=1 in turns with the floor: median p50 difference within 0.10 ms" % wl,
              "%+.3f ms (%d rounds: %s)" % (med, len(diffs),
                                            ", ".join("%+.3f" % d for d in turn_diffs[wl])),
              med <= 0.10)
    for wl, label in (("W3 500 slow streams", "W3 (fresh workers)"),
                      ("W3 500 slow streams, again", "W3 again (warm)")):
        r, d = get("ccproxy", wl, 500), get("direct", wl, 500)
        if not r:
            continue
        t("%s: 500 of 500 slow streams complete" % label,
          "%s of %s" % (r.get("complete"), r["requests"]),
          r.get("complete") == r["requests"] == 500)
        if d and d.get("ttfb_p99_ms") is not None and r.get("ttfb_p99_ms") is not None:
            lim = d["ttfb_p99_ms"] + 50
            fl = get("floor", wl, 500)
            floor = ("; lighttpd + FastCGI floor %.1f" % fl["ttfb_p99_ms"]
                     if fl and fl.get("ttfb_p99_ms") is not None else "")
            t("%s: TTFB p99 <= direct + 50 ms" % label,
              "%.1f ms (limit %.1f%s)" % (r["ttfb_p99_ms"], lim, floor), r["ttfb_p99_ms"] <= lim)
        if r.get("peak_rss_mb") is not None:
            tot = r["peak_rss_mb"] + r.get("coordd_rss_mb", 0)
            t("%s: ccproxy-fcgi workers + ccproxy-coordd <= 150 MB RSS" % label,
              "%.1f + %.1f = %.1f MB" % (r["peak_rss_mb"], r.get("coordd_rss_mb", 0), tot),
              tot <= 150)
    for c in (32, 1):
        r = get("ccproxy", "W1 non-stream small", c)
        if r and r.get("cpu_ms_per_req") is not None:
            t("worker CPU per request, W1 small, c=%d: <= 0.2 ms" % c,
              "%.3f ms" % r["cpu_ms_per_req"], r["cpu_ms_per_req"] <= 0.2)
    tr = kv_of(a.translate)
    if "tr_request_us" in tr:
        us = float(tr["tr_request_us"])
        t("translation of the large body (%s bytes): <= 2 ms" % tr.get("body_bytes"),
          "%.2f ms" % (us / 1000), us <= 2000)
    r = get("ccproxy", "W4 20 identical streams, fan-out", 20)
    r0 = get("ccproxy", "W4 20 identical streams, no fan-out", 20)
    if r:
        t("W4 fan-out: 1 upstream call for 20 identical concurrent streams, all complete",
          "%d upstream calls (without fan-out: %s), %s of 20 complete, x-ccproxy-cache %s"
          % (r["upstream_calls"], r0["upstream_calls"] if r0 else "-", r.get("complete"),
             r.get("cache", {})),
          r["upstream_calls"] == 1 and r.get("complete") == 20)
    for r in [x for x in rows
              if x["target"] == "ccproxy" and x["workload"].startswith("W6")]:
        hits = r.get("cache", {}).get("hit", 0)
        t("%s: 1 upstream call for %d identical requests" % (r["workload"], r["requests"]),
          "%d upstream calls, %d hits; hit latency p50 %s ms, p99 %s ms (all: p50 %s ms)"
          % (r["upstream_calls"], hits, fmt(r.get("hit_p50_ms"), 3),
             fmt(r.get("hit_p99_ms"), 3), fmt(r.get("p50_ms"), 3)),
          r["upstream_calls"] == 1 and hits == r["requests"] - 1)
    w("")
    w("Peak RSS of all ccproxy-fcgi processes over the W1/W2/W4/W5/W6 run (600 KB bodies "
      "at c=32 included): %.1f MB."
      % (int(a.total_rss_kb) / 1024.0))
    print("\n".join(out))


def kv_of(line):
    """translate_bench's `name=value ...` line as a dict."""
    return dict(x.split("=", 1) for x in line.split() if "=" in x)


def c1_bound(w, get, a):
    """The table "c=1 bound": what a proxied non-stream request at c=1 cannot
    go under, one step after the other on its path: the floor (lighttpd and
    FastCGI), the upstream exchange of its translated body (the direct
    row), and translating the request and the answer (translate_bench)."""
    answer = kv_of(a.translate_answer).get("tr_response_us")
    lines = []
    for size, line in (("small", a.translate_small), ("medium", a.translate_medium),
                       ("large", a.translate)):
        wl = "W1 non-stream %s" % size
        f, d, c = get("floor", wl, 1), get("direct", wl, 1), get("ccproxy", wl, 1)
        kv = kv_of(line)
        tr = kv.get("tr_request_us")
        if not (f and d and c and tr and answer) or None in (
                f.get("p50_ms"), d.get("p50_ms"), c.get("p50_ms")):
            continue
        tr_ms = (float(tr) + float(answer)) / 1000
        low = f["p50_ms"] + d["p50_ms"] + tr_ms
        lines.append("| %s (%s bytes) | %.3f | %.3f | %.3f | %.3f | %+.3f | %.3f | %+.3f |" % (
            size, kv.get("body_bytes", "?"), f["p50_ms"], d["p50_ms"], tr_ms, low,
            low - f["p50_ms"], c["p50_ms"], c["p50_ms"] - f["p50_ms"]))
    if not lines:
        return
    w("c=1 bound: what a non-stream request through any translating proxy cannot go under "
      "at c=1, its steps one after the other: the floor (lighttpd and FastCGI, p50), the "
      "upstream exchange of the translated body (the direct row's p50: the same bytes to "
      "the same mock), and translating the request and the mock's answer (translate_bench, "
      "one thread, warm). The cache key, the memcached lookup and the worker's own HTTP "
      "client come on top. The c=1 target allows the floor + 0.10 ms.")
    w("")
    w("| body | floor p50 ms | + direct p50 ms | + translation ms | = bound ms | bound over "
      "the floor ms | CCProxy p50 ms | CCProxy over the floor ms |")
    w("|---|---|---|---|---|---|---|---|")
    for x in lines:
        w(x)
    w("")


def cpu_budget(w, get):
    """The table "Where the CPU goes" for W1 at c=32 (each body), and the rate
    bound it implies for CCProxy: {(workload, target): fraction of the floor's
    rate}."""
    bound = {}
    lines = []
    for size in ("small", "medium", "large"):
        wl = "W1 non-stream %s" % size
        f = get("floor", wl, 32)
        rows = [r for r in (f, get("ccproxy", wl, 32), get("ccproxy-nocache", wl, 32))
                if r and r.get("all_cpu_ms_per_req") and r.get("cpu_ms_per_req") is not None]
        if not f or f not in rows or len(rows) < 2 or not f.get("rps"):
            continue
        for r in rows:
            us = {k: (r.get(k) or 0.0) * 1000 for k in (
                "all_cpu_ms_per_req", "cpu_ms_per_req", "web_cpu_ms_per_req",
                "mc_cpu_ms_per_req", "mock_cpu_ms_per_req", "coordd_cpu_ms_per_req")}
            rest = us["all_cpu_ms_per_req"] - sum(v for k, v in us.items()
                                                    if k != "all_cpu_ms_per_req")
            cell = "-"
            if r is not f:
                # the same request with workers that cost what the floor's do,
                # the CPUs as busy as in this row: the rate grows as "all" shrinks
                alt = r["all_cpu_ms_per_req"] - r["cpu_ms_per_req"] + f["cpu_ms_per_req"]
                if alt > 0:
                    b = r["rps"] * r["all_cpu_ms_per_req"] / alt / f["rps"]
                    bound[(wl, r["target"])] = b
                    cell = "%.0f %%" % (b * 100)
            lines.append("| %s | %s | %.0f | %.0f %% | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f "
                         "| %.1f | %s |" % (
                             size, r["target"], r["rps"], r.get("machine_busy", 0) * 100,
                             us["all_cpu_ms_per_req"], us["cpu_ms_per_req"],
                             us["web_cpu_ms_per_req"], us["mc_cpu_ms_per_req"],
                             us["mock_cpu_ms_per_req"], us["coordd_cpu_ms_per_req"], rest, cell))
    if not lines:
        return bound
    w("Where the CPU goes, W1 non-stream at c=32: CPU time per request of every process on "
      "the path (from /proc, microseconds). \"rest\" is the machine's busy time that no "
      "listed process is charged with: the load generator (wrk) and interrupts. With the CPUs "
      "busy, the rate is the inverse of \"all\". \"bound\": the most CCProxy's rate could be, "
      "as a fraction of the floor's, if its workers cost no more than the floor's trivial "
      "responder and everything else stayed as measured (lighttpd, the load generator, the "
      "mock upstream's work for the call the floor does not make, memcached's for the "
      "cache), the CPUs as busy as in its row: rps x all / (all - workers + the floor's "
      "workers) / the floor's rps. The target is 85 %.")
    w("")
    w("| body | target | req/s | CPUs busy | all | workers | lighttpd | memcached | "
      "mock upstream | ccproxy-coordd | rest | bound |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for x in lines:
        w(x)
    w("")
    return bound

if __name__ == "__main__":
    main()
