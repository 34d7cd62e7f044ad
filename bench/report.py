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
    p.add_argument("--ccr", default="")
    p.add_argument("--cmd", default="bench/run.sh")
    p.add_argument("--procs", default="?")
    p.add_argument("--threads", default="?")
    p.add_argument("--duration", default="?")
    p.add_argument("--total-rss-kb", default="0")
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
      "%s s per wrk run; upstream: bench/mock_upstream (C, epoll) on 127.0.0.1."
      % (platform.node(), platform.platform(), os.cpu_count(), a.cmd, a.procs, a.threads,
         a.duration))
    w("")
    w("| target | workload | conc | requests | req/s | p50 ms | p99 ms | TTFB p50 ms | "
      "TTFB p99 ms | +p50 vs direct ms | worker CPU ms/req | lighttpd CPU ms/req | "
      "worker peak RSS MB | upstream calls | upstream conns | errors | complete |")
    w("|" + "---|" * 17)
    for r in rows:
        d = get("direct", r["workload"], r["conc"])
        added = None
        if r["target"] != "direct" and d and d.get("p50_ms") is not None and \
                r.get("p50_ms") is not None:
            added = r["p50_ms"] - d["p50_ms"]
        w("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["target"], r["workload"], r["conc"], fmt(r.get("requests")), fmt(r.get("rps"), 0),
            fmt(r.get("p50_ms"), 3), fmt(r.get("p99_ms"), 3), fmt(r.get("ttfb_p50_ms"), 3),
            fmt(r.get("ttfb_p99_ms"), 3), fmt(added, 3), fmt(r.get("cpu_ms_per_req"), 3),
            fmt(r.get("web_cpu_ms_per_req"), 3), fmt(r.get("peak_rss_mb"), 1),
            fmt(r.get("upstream_calls")), fmt(r.get("upstream_conns")), fmt(r.get("errors")),
            fmt(r.get("complete"))))
    w("")
    w("claude-code-router: %s." % a.ccr)
    w("")
    w("Request translation of the large body (bench/translate_bench): `%s`" % a.translate)
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
            t("%s, c=32: >= 85 %% of the floor's req/s" % wl,
              "%.0f / %.0f = %.0f %%" % (c["rps"], f["rps"], ratio * 100), ratio >= 0.85)
        c, f = get("ccproxy", wl, 1), get("floor", wl, 1)
        if c and f and c.get("p50_ms") is not None and f.get("p50_ms") is not None:
            diff = c["p50_ms"] - f["p50_ms"]
            t("%s, c=1: p50 within 0.10 ms of the floor's" % wl,
              "%.3f - %.3f = %+.3f ms" % (c["p50_ms"], f["p50_ms"], diff), diff <= 0.10)
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
            t("%s: TTFB p99 <= direct + 50 ms" % label,
              "%.1f ms (limit %.1f)" % (r["ttfb_p99_ms"], lim), r["ttfb_p99_ms"] <= lim)
        if r.get("peak_rss_mb") is not None:
            t("%s: workers (+ ccproxy-coordd, not built yet) <= 150 MB RSS" % label,
              "%.1f MB" % r["peak_rss_mb"], r["peak_rss_mb"] <= 150)
    for c in (32, 1):
        r = get("ccproxy", "W1 non-stream small", c)
        if r and r.get("cpu_ms_per_req") is not None:
            t("worker CPU per request, W1 small, c=%d: <= 0.2 ms" % c,
              "%.3f ms" % r["cpu_ms_per_req"], r["cpu_ms_per_req"] <= 0.2)
    tr = dict(kv.split("=", 1) for kv in a.translate.split() if "=" in kv)
    if "tr_request_us" in tr:
        us = float(tr["tr_request_us"])
        t("translation of the large body (%s bytes): <= 2 ms" % tr.get("body_bytes"),
          "%.2f ms" % (us / 1000), us <= 2000)
    r = get("ccproxy", "W4 20 identical streams", 20)
    if r:
        t("W4 fan-out: 1 upstream call for 20 identical streams (coordinator not wired yet)",
          "%d upstream calls" % r["upstream_calls"], r["upstream_calls"] <= 1)
    r = [x for x in rows if x["workload"].startswith("W6")]
    if r:
        r = r[0]
        t("W6 response cache: 1 upstream call for %d identical requests" % r["requests"],
          "%d upstream calls" % r["upstream_calls"], r["upstream_calls"] <= 1)
    w("")
    w("Peak RSS of all ccproxy-fcgi processes over the W1/W2/W4-W6 run (600 KB bodies "
      "at c=32 included): %.1f MB."
      % (int(a.total_rss_kb) / 1024.0))
    print("\n".join(out))


if __name__ == "__main__":
    main()
