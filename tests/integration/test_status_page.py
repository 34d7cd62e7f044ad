"""/status in headless Chromium: the page renders by itself (no external
scripts or fonts), its inline script fetches /v1/metrics and fills in the
numbers and SVG charts. The screenshot is kept in the test's run dir (and in
$CCP_RESULTS_DIR when set)."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from harness import Proxy

SONNET = "claude-sonnet-4-5-20250929"
USAGE = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500}


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (Debian package chromium)")


def run_chromium(run_dir, url, *mode):
    profile = run_dir / ("chromium-profile-%d" % time.monotonic_ns())
    argv = ["timeout", "-k", "5", "60", chromium(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--user-data-dir=%s" % profile, "--virtual-time-budget=8000",
            "--window-size=1280,1100"] + list(mode) + [url]
    res = subprocess.run(argv, capture_output=True, cwd=run_dir)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-2000:]
    return res.stdout.decode(errors="replace")


@pytest.fixture
def proxy(run_dir, mock):
    pricing = run_dir / "pricing.json"
    pricing.write_text(json.dumps({"gpt-mock-big": {"input": 1.25, "output": 10}}))
    p = Proxy(run_dir, mock.base_url, {"PRICING_FILE": str(pricing)})
    yield p
    p.stop()


def test_status_page_renders_metrics(proxy, mock, run_dir):
    mock.script(*[{"kind": "text", "text": "ok", "usage": USAGE} for _ in range(3)])
    for i in range(3):
        # distinct prompts: a repeated one would be answered by the response cache
        body = {"model": SONNET, "max_tokens": 64,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi %d" % i}]}]}
        status, _, raw = proxy.messages(body)
        assert status == 200, raw[:300]
    status, hdrs, page = proxy.request("GET", "/status")
    assert status == 200 and hdrs["content-type"].startswith("text/html")
    html = page.decode()
    assert "<script src" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r'(href|src)="(https?:)?//', html), "the page must be self-contained"

    url = "http://127.0.0.1:%d/status" % proxy.port
    dom = run_chromium(run_dir, url, "--dump-dom")
    assert 'data-ready="1"' in dom, dom[-1500:]
    _, _, raw = proxy.request("GET", "/v1/metrics")
    m = json.loads(raw)
    total = m["performance"]["requests_total"]
    assert total == 3
    assert re.search(r'id="requests_total">%d<' % total, dom), dom[:3000]
    assert re.search(r'id="tokens">3,600 / 900<', dom), "tokens in / out"
    assert re.search(r'id="procs">\d+ / 2<', dom)
    # 3 x (1200 x $1.25 + 300 x $10) / M = $0.0135; Claude Sonnet: 3 x (1200 x 3 + 300 x 15) / M
    assert re.search(r'id="cost">\$0\.0135<', dom)
    assert re.search(r'id="savings">\$0\.0108<', dom)
    assert dom.count("<polyline") >= 6, "the SVG charts were drawn"
    assert "gpt-mock-big" in dom, "the per-model table was filled"
    assert re.search(r'<span id="err"></span>', dom), "no fetch error shown"

    shot = run_dir / "status.png"
    run_chromium(run_dir, url, "--screenshot=%s" % shot)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000
    results = os.environ.get("CCP_RESULTS_DIR")
    if results:
        os.makedirs(results, exist_ok=True)
        shutil.copy(shot, os.path.join(results, "status.png"))
