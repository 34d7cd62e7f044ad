"""POST /v1/messages/count_tokens through lighttpd and the worker: exact counts
with the rank tables (checked against ccproxy-tokens), the per-string count
cache on a growing conversation (in-process and through a real memcached on
an ephemeral 127.0.0.1 port), the estimate when the tables are missing, the
encoding override and the optional upstream counting endpoint."""

import json
import os
import subprocess

import pytest

from harness import REPO, UPSTREAM_KEY, Proxy, build_dir, wait_until, worker_path
from harness import Memcached

SONNET = "claude-sonnet-4-5-20250929"
PATH = "/v1/messages/count_tokens?beta=true"
PARAGRAPH = ("The proxy translates Anthropic Messages requests into Chat Completions "
             "requests, streams the answers back and counts tokens locally. ")


def tokens_of(text, encoding="o200k_base"):
    """The token count of text from the ccproxy-tokens tool."""
    tool = build_dir() / "ccproxy-tokens"
    out = subprocess.run([str(tool), "--count", "--encoding", encoding], input=text.encode(),
                         capture_output=True, timeout=30, check=True,
                         env={"CCPROXY_DATA_DIR": str(REPO / "data"), "PATH": "/usr/bin:/bin"})
    return int(out.stdout)


def start(run_dir, mock, extra_env=None, **conf):
    env_file = run_dir / "count.env"
    env_file.write_text("".join("%s=%s\n" % kv for kv in conf.items()))
    env = {"CCPROXY_ENV_FILE": str(env_file)}
    env.update(extra_env or {})
    return Proxy(run_dir, mock.base_url, env)


def conversation(turns):
    """A Claude Code-like conversation: user text, assistant tool_use, user
    tool_result, ... each block long enough for the count cache."""
    msgs = []
    for t in range(turns):
        if t % 2 == 0:
            content = [{"type": "text", "text": "turn %d: %s" % (t, PARAGRAPH * (3 + t))}]
            if t > 0:
                content.insert(0, {"type": "tool_result", "tool_use_id": "toolu_%d" % (t - 1),
                                   "content": "output %d\n%s" % (t, PARAGRAPH * 4)})
            msgs.append({"role": "user", "content": content})
        else:
            msgs.append({"role": "assistant", "content": [
                {"type": "text", "text": "Looking at turn %d. %s" % (t, PARAGRAPH * 3)},
                {"type": "tool_use", "id": "toolu_%d" % t, "name": "Bash",
                 "input": {"command": "grep -rn count%d . # %s" % (t, PARAGRAPH * 4)}}]})
    return {"model": SONNET, "messages": msgs}


def count(proxy, body):
    status, headers, raw = proxy.messages(body, path=PATH)
    assert status == 200, raw[:500]
    return json.loads(raw)["input_tokens"], headers


def cache_counters(headers):
    """(hits, misses) from x-ccproxy-token-cache: hits=N misses=M."""
    value = headers["x-ccproxy-token-cache"]
    parts = dict(p.split("=") for p in value.split())
    return int(parts["hits"]), int(parts["misses"])


def test_exact_count_matches_the_tokenizer(run_dir, mock):
    proxy = start(run_dir, mock, MEMCACHED_SERVERS="")
    try:
        text = "Count these words, please: naïve café, 東京, and a tab\tat the end."
        n, headers = count(proxy, {"model": SONNET,
                                   "messages": [{"role": "user", "content": text}]})
        assert headers["x-ccproxy-token-count"] == "exact"
        # 3 priming + 3 for the message + its role + its content (docs/tokens.md)
        assert n == 3 + 3 + tokens_of("user") + tokens_of(text)
        assert mock.requests() == []
    finally:
        proxy.stop()


def test_growing_conversation_hits_the_in_process_cache(run_dir, mock):
    # one worker process, so the second request meets the first one's LRU
    proxy = start(run_dir, mock, extra_env={"CCPROXY_PROCS": "1"}, MEMCACHED_SERVERS="")
    plain_dir = run_dir / "plain"
    plain_dir.mkdir()
    plain = start(plain_dir, mock, MEMCACHED_SERVERS="", CACHE_TOKEN_COUNTS_ENABLED="false")
    try:
        n4, h4 = count(proxy, conversation(4))
        hits, misses = cache_counters(h4)
        assert hits == 0 and misses >= 4
        n5, h5 = count(proxy, conversation(5))
        hits5, misses5 = cache_counters(h5)
        assert hits5 == misses  # every block of the first call
        assert 1 <= misses5 <= 3  # only the new turn's blocks
        u4, hu = count(plain, conversation(4))
        u5, _ = count(plain, conversation(5))
        assert "x-ccproxy-token-cache" not in hu
        assert hu["x-ccproxy-token-count"] == "exact"
        assert (n4, n5) == (u4, u5)
        assert n5 > n4
    finally:
        proxy.stop()
        plain.stop()


def test_growing_conversation_hits_memcached(run_dir, mock):
    mc = Memcached(run_dir)
    mc.start()
    proxy = None
    try:
        # no LRU anywhere: hits must come from memcached, shared by both processes
        proxy = start(run_dir, mock, MEMCACHED_SERVERS="127.0.0.1:%d" % mc.port,
                      CACHE_TOKEN_COUNTS_MAX="1", RESPONSE_CACHE_LRU_MAX="0",
                      MEMCACHED_TIMEOUT_MS="500")
        first, h1 = count(proxy, conversation(6))
        _, misses = cache_counters(h1)
        assert misses >= 6
        grown, h2 = count(proxy, conversation(7))
        hits2, misses2 = cache_counters(h2)
        assert hits2 >= misses - 1 and 1 <= misses2 <= 3
        again, h3 = count(proxy, conversation(7))
        assert again == grown
        hits3, misses3 = cache_counters(h3)
        assert misses3 <= 1 and hits3 >= hits2
        mc.stop()  # memcached gone: misses, same count
        down, h4 = count(proxy, conversation(7))
        assert down == grown
        assert cache_counters(h4)[0] <= 1
    finally:
        if proxy is not None:
            proxy.stop()
        mc.stop()


def test_missing_tables_answer_an_estimate(run_dir, mock):
    proxy = start(run_dir, mock, MEMCACHED_SERVERS="", TOKENIZER_DATA_DIR=str(run_dir))
    try:
        n, headers = count(proxy, conversation(3))
        assert headers["x-ccproxy-token-count"] == "estimate"
        assert n > 0
        wait_until(lambda: "cannot load o200k_base.bpe" in proxy.proc.output(), 5,
                   "the worker to log the missing table")
    finally:
        proxy.stop()


def test_data_dir_and_encoding_override(run_dir, mock):
    proxy = start(run_dir, mock, MEMCACHED_SERVERS="", TOKENIZER_DATA_DIR=str(REPO / "data"),
                  TOKEN_COUNT_ENCODING="cl100k_base")
    try:
        text = "東京タワーの高さは333メートルです。" * 3
        n, headers = count(proxy, {"model": SONNET,
                                   "messages": [{"role": "user", "content": text}]})
        assert headers["x-ccproxy-token-count"] == "exact"
        assert n == 3 + 3 + tokens_of("user", "cl100k_base") + tokens_of(text, "cl100k_base")
        assert tokens_of(text, "cl100k_base") != tokens_of(text)
    finally:
        proxy.stop()


def test_upstream_counting_endpoint(run_dir, mock):
    url = mock.base_url + "/tokenize"
    proxy = start(run_dir, mock, MEMCACHED_SERVERS="", COUNT_TOKENS_UPSTREAM="true",
                  COUNT_TOKENS_UPSTREAM_URL=url, PROVIDER_MAX_RETRIES="0")
    try:
        body = conversation(3)
        n, headers = count(proxy, body)
        assert headers["x-ccproxy-token-count"] == "upstream"
        rec = mock.requests()[-1]
        assert rec["path"].endswith("/tokenize")
        assert ["Authorization", "Bearer " + UPSTREAM_KEY] in rec["headers"]
        # the translated request: the tool result became a role "tool" message
        roles = [m["role"] for m in rec["body"]["messages"]]
        assert roles == ["user", "assistant", "tool", "user"]
        assert n == 1000 + 4  # the mock's count: 1000 + translated messages
        # the endpoint fails: counted locally, exactly
        mock.script({"kind": "error", "status": 503})
        n2, h2 = count(proxy, body)
        assert h2["x-ccproxy-token-count"] == "exact"
        assert 0 < n2 != 1004
    finally:
        proxy.stop()


@pytest.mark.parametrize("var,value", [("TOKEN_COUNT_ENCODING", "p50k_base"),
                                       ("COUNT_TOKENS_UPSTREAM_URL", "ftp://x"),
                                       ("COUNT_TOKENS_UPSTREAM", "true")])
def test_bad_count_settings_are_refused(run_dir, var, value):
    env_file = run_dir / "bad.env"
    env_file.write_text("%s=%s\n" % (var, value))
    out = subprocess.run([str(worker_path()), "--check-config"], capture_output=True,
                         timeout=30, env={"CCPROXY_ENV_FILE": str(env_file),
                                          "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert out.returncode == 1
    assert var in out.stderr.decode()
