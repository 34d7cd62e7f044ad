"""Metrics (issue "Metrics, logs, cost and savings, and a status page"):
/v1/metrics aggregated over every worker process through the shared file,
surviving a worker kill; /metrics parsed as Prometheus text; the JSON request
line in lighttpd's error log; admin restrictions."""

import concurrent.futures
import itertools
import json
import os
import re
import signal
import subprocess

import pytest

from harness import CLIENT_HEADERS, UPSTREAM_KEY, Proxy, wait_until, worker_path

SONNET = "claude-sonnet-4-5-20250929"
USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500,
         "prompt_tokens_details": {"cached_tokens": 200}}
# gpt-mock-big priced by the test's PRICING_FILE: $2 in, $8 out, $0.5 cached (per M)
COST = (800 * 2 + 200 * 0.5 + 500 * 8) / 1e6
# claude-sonnet-4-5 built in: $3 in, $15 out, $0.30 cache read
CLAUDE = (800 * 3 + 200 * 0.3 + 500 * 15) / 1e6


@pytest.fixture
def priced_proxy(run_dir, mock):
    pricing = run_dir / "pricing.json"
    pricing.write_text(json.dumps({"gpt-mock-big": {"input": 2, "output": 8,
                                                    "cached_input": 0.5}}))
    p = Proxy(run_dir, mock.base_url, {"PRICING_FILE": str(pricing)})
    yield p
    p.stop()


def turn(text, stream=False):
    return {"model": SONNET, "max_tokens": 256, "stream": stream,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}


def metrics(proxy, headers=None):
    status, hdrs, body = proxy.request("GET", "/v1/metrics", headers=headers)
    assert status == 200, body[:300]
    assert hdrs["content-type"].startswith("application/json")
    return json.loads(body)


def request_lines(proxy):
    """The JSON request lines of lighttpd's error log."""
    out = []
    for line in proxy.error_log().splitlines():
        if line.startswith("{") and '"msg":"request"' in line:
            out.append(json.loads(line))
    return out


SENT = itertools.count()


def send_concurrent(proxy, mock, n, delay=0.4):
    mock.script(*[{"kind": "text", "text": "ok", "usage": USAGE, "first_byte_delay": delay}
                  for _ in range(n)])
    # distinct prompts: a repeated one would be answered by the response cache
    prompts = ["hi %d" % next(SENT) for _ in range(n)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
        results = list(ex.map(lambda p: proxy.messages(turn(p)), prompts))
    for status, _, raw in results:
        assert status == 200, raw[:300]


def test_metrics_aggregate_over_worker_processes(priced_proxy, mock):
    proxy = priced_proxy
    send_concurrent(proxy, mock, 6)
    lines = [x for x in request_lines(proxy) if x["path"] == "/v1/messages"]
    assert len(lines) == 6
    assert len({x["pid"] for x in lines}) == 2, "both worker processes should have served"
    seen_pids = set()
    for _ in range(6):  # whichever process answers, the numbers are the host's
        m = metrics(proxy)
        assert m["host"]["shared"] is True
        assert m["host"]["processes"] == 2, m["host"]
        seen_pids.update(m["host"]["pids"])
        perf = m["performance"]
        assert perf["requests_total"] == 6
        assert perf["messages"] == 6 and perf["status"]["2xx"] == 6
        assert perf["tokens"] == {"input": 6000, "output": 3000, "cached_input": 1200}
        assert perf["latency_ms"]["count"] == 6
        assert perf["latency_ms"]["p50"] >= 250, perf["latency_ms"]  # 0.4 s first byte
        up = m["upstream"]
        assert up["requests"] == 6 and up["status"]["2xx"] == 6
        assert up["http_version"]["1.1"] == 6
        assert up["ttfb_ms"]["count"] == 6 and up["ttfb_ms"]["p50"] >= 250
        assert up["connections_opened"] >= 2
        cost = m["cost"]
        assert cost["priced_requests"] == 6
        assert cost["total_usd"] == pytest.approx(6 * COST, rel=1e-6)
        assert cost["claude_equivalent_usd"] == pytest.approx(6 * CLAUDE, rel=1e-6)
        assert cost["savings_usd"] == pytest.approx(6 * (CLAUDE - COST), rel=1e-6)
        [model] = cost["by_model"]
        assert model["model"] == "gpt-mock-big" and model["requests"] == 6
        [tenant] = cost["by_tenant"]
        assert re.fullmatch(r"[0-9a-f]{16}", tenant["tenant"])
        assert tenant["cost_usd"] == pytest.approx(6 * COST, rel=1e-6)
        assert sum(m["series"]["requests"]) == 6
        for section in ("response_cache", "request_validator_cache", "token_count_cache",
                        "coordinator"):
            assert section in m
    assert seen_pids == {x["pid"] for x in lines}


def test_counters_survive_a_worker_kill(proxy, mock):
    send_concurrent(proxy, mock, 4, delay=0.2)
    before = metrics(proxy)
    assert before["performance"]["requests_total"] == 4
    victim = before["host"]["pids"][0]
    os.kill(victim, signal.SIGKILL)  # a worker our lighttpd started; lighttpd restarts it

    def restarted():
        try:
            m = metrics(proxy)
        except (AssertionError, OSError):
            return None
        pids = m["host"]["pids"]
        return m if victim not in pids and len(pids) == 2 else None

    wait_until(restarted, 20, "lighttpd to restart the killed worker", step=0.2)
    send_concurrent(proxy, mock, 4, delay=0.2)
    after = metrics(proxy)
    assert after["performance"]["requests_total"] == 8
    assert after["performance"]["tokens"]["output"] == 8 * 500
    assert after["host"]["since_unix"] == before["host"]["since_unix"]


PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                       r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)\})? '
                       r'(-?[0-9.e+-]+|\+Inf|NaN)$')


def strict_prometheus(text):
    """Our own strict reading of the text format: every sample's family has
    HELP and TYPE first; returns {family: (type, [(name, labels, value)])}."""
    assert text.endswith("\n")
    fams, current = {}, None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name not in fams, "family %s twice" % name
            fams[name] = [None, []]
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            assert name == current and typ in ("counter", "gauge", "histogram"), line
            fams[name][0] = typ
        else:
            m = PROM_LINE.match(line)
            assert m, "bad sample line: %r" % line
            name = m.group(1)
            fam = current
            assert fam is not None and fams[fam][0] is not None, line
            suffixes = ("_bucket", "_sum", "_count") if fams[fam][0] == "histogram" else ("",)
            assert any(name == fam + s for s in suffixes), "%s outside family %s" % (name, fam)
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                     m.group(3) or ""))
            fams[fam][1].append((name, labels, float(m.group(4))))
    return fams


def test_prometheus_text_parses(priced_proxy, mock):
    from prometheus_client.parser import text_string_to_metric_families

    proxy = priced_proxy
    send_concurrent(proxy, mock, 3, delay=0.05)
    status, hdrs, body = proxy.request("GET", "/metrics")
    assert status == 200
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    fams = strict_prometheus(text)
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert parsed["ccproxy_requests"].samples[0].value == 3
    assert fams["ccproxy_requests_total"][1][0][2] == 3
    for hist in ("ccproxy_request_duration_seconds", "ccproxy_upstream_duration_seconds",
                 "ccproxy_upstream_ttfb_seconds"):
        typ, samples = fams[hist]
        assert typ == "histogram" and parsed[hist].type == "histogram"
        buckets = [(s[1]["le"], s[2]) for s in samples if s[0] == hist + "_bucket"]
        assert buckets[-1][0] == "+Inf"
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), "buckets must be cumulative"
        count = [s[2] for s in samples if s[0] == hist + "_count"][0]
        assert counts[-1] == count == 3
    assert fams["ccproxy_cost_usd_total"][1][0][2] == pytest.approx(3 * COST, rel=1e-6)
    model_req = {s[1]["model"]: s[2] for s in fams["ccproxy_model_requests_total"][1]}
    assert model_req == {"gpt-mock-big": 3}
    assert fams["ccproxy_worker_processes"][1][0][2] == 2


def test_json_request_line_in_error_log(proxy, mock):
    mock.script({"kind": "text", "text": "ok", "usage": USAGE})
    status, hdrs, _ = proxy.messages(turn("hello"), headers={"x-request-id": "test-req-42"})
    assert status == 200 and hdrs["request-id"] == "test-req-42"
    status, hdrs, _ = proxy.messages(turn("streamed", stream=True))
    assert status == 200
    generated = hdrs["request-id"]
    lines = {x["request_id"]: x for x in request_lines(proxy)}
    line = lines["test-req-42"]
    assert line["model"] == SONNET and line["upstream_model"] == "gpt-mock-big"
    assert line["status"] == 200 and line["stream"] is False
    assert (line["tokens_in"], line["tokens_out"], line["tokens_cached"]) == (1000, 500, 200)
    assert line["cache"] == "miss"  # the in-process response cache is on by default
    assert isinstance(line["upstream_ms"], int) and line["total_ms"] >= line["upstream_ms"]
    assert re.fullmatch(r"[0-9a-f]{16}", line["tenant"])
    assert line["cost_usd"] == 0  # gpt-mock-big has no price without a PRICING_FILE
    s = lines[generated]
    assert generated.startswith("req_") and s["stream"] is True and s["tokens_out"] > 0
    log = proxy.error_log()
    assert CLIENT_HEADERS["x-api-key"] not in log
    assert UPSTREAM_KEY not in log
    assert not re.search(r"request method=", log), "the old key=value summary line is gone"


def test_admin_api_key(run_dir, mock):
    p = Proxy(run_dir, mock.base_url, {"ADMIN_API_KEY": "adm-secret-7"})
    try:
        for path in ("/v1/metrics", "/metrics", "/status"):
            status, hdrs, body = p.request("GET", path)
            assert status == 401, path
            assert hdrs["www-authenticate"].startswith("Basic")
            assert json.loads(body)["error"]["type"] == "authentication_error"
            status, _, _ = p.request("GET", path, headers={"x-api-key": "adm-secret-8"})
            assert status == 401
            status, _, _ = p.request("GET", path, headers={"x-api-key": "adm-secret-7"})
            assert status == 200, path
        status, _, _ = p.request("GET", "/metrics",
                                 headers={"Authorization": "Bearer adm-secret-7"})
        assert status == 200
        status, _, _ = p.request("GET", "/status",  # user:adm-secret-7
                                 headers={"Authorization": "Basic dXNlcjphZG0tc2VjcmV0LTc="})
        assert status == 200
        status, _, _ = p.request("GET", "/health")
        assert status == 200, "only admin endpoints need the key"
        assert "adm-secret-7" not in p.error_log()
    finally:
        p.stop()


def cgi(run_dir, remote_addr, localhost_only):
    env_file = run_dir / "cgi.env"
    env_file.write_text("")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GATEWAY_INTERFACE": "CGI/1.1",
           "REQUEST_METHOD": "GET", "REQUEST_URI": "/v1/metrics", "SCRIPT_NAME": "",
           "REMOTE_ADDR": remote_addr, "CCPROXY_ENV_FILE": str(env_file),
           "METRICS_SHM_PATH": str(run_dir / "cgi.metrics"),
           "ADMIN_LOCALHOST_ONLY": "true" if localhost_only else "false"}
    res = subprocess.run(["timeout", "10", str(worker_path())], env=env,
                         stdin=subprocess.DEVNULL, capture_output=True)
    return res.stdout.decode(errors="replace")


def test_admin_localhost_only(run_dir):
    # Tests reach only 127.0.0.1, so a remote client is played through CGI,
    # where REMOTE_ADDR comes from the environment as the web server sets it.
    out = cgi(run_dir, "192.0.2.7", True)
    assert out.startswith("Status: 403"), out[:300]
    assert "permission_error" in out
    out = cgi(run_dir, "127.0.0.1", True)
    assert out.startswith("Status: 200"), out[:300]
    out = cgi(run_dir, "::ffff:127.0.0.1", True)
    assert out.startswith("Status: 200"), out[:300]
    out = cgi(run_dir, "192.0.2.7", False)
    assert out.startswith("Status: 200"), out[:300]


def test_request_and_message_ids_unique_across_threads(proxy, mock):
    """Ids come from a per-thread generator (no system call each): 240
    concurrent requests over both worker processes still get 240 distinct,
    well-formed request ids and message ids."""
    mock.script({"kind": "text", "text": "ok"})

    def one(i):
        status, hdrs, body = proxy.messages(turn("ids %d" % i))
        assert status == 200, body
        return hdrs["request-id"], json.loads(body)["id"]

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        got = list(pool.map(one, range(240)))
    req_ids = [r for r, _ in got]
    msg_ids = [m for _, m in got]
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", r) for r in req_ids), req_ids[:3]
    assert all(re.fullmatch(r"msg_[0-9a-f]{24}", m) for m in msg_ids), msg_ids[:3]
    assert len(set(req_ids)) == 240 and len(set(msg_ids)) == 240
    assert len({line["pid"] for line in request_lines(proxy)}) == 2  # both processes served
