"""The top-level files users run agree with the worker they start."""

import os
import re
import subprocess

from harness import LIGHTTPD_CONF, SANITIZER_OPTIONS, Proxy, wait_until, worker_path
from test_proxy import worker_pids


def copied_variables():
    text = LIGHTTPD_CONF.read_text()
    m = re.search(r'"bin-copy-environment"\s*=>\s*\((.*?)\)', text, re.S)
    assert m, "lighttpd.conf has no bin-copy-environment list"
    body = "\n".join(line.split("#", 1)[0] for line in m.group(1).splitlines())
    return set(re.findall(r'"([A-Z][A-Z0-9_]*)"', body))


def test_lighttpd_copies_every_configuration_variable():
    out = subprocess.run(["timeout", "10", str(worker_path()), "--print-env-example"],
                         capture_output=True, text=True, check=True).stdout
    names = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", out, re.M))
    assert len(names) > 20, out[:500]
    missing = names - copied_variables()
    assert not missing, "not passed to the workers by lighttpd.conf: %s" % sorted(missing)


def test_lighttpd_conf_syntax(tmp_path):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CCPROXY_BIN": str(worker_path()),
           "CCPROXY_RUN_DIR": str(tmp_path), "CCPROXY_BIND": "127.0.0.1", "PORT": "8082",
           "CCPROXY_PROCS": "2"}
    res = subprocess.run(["timeout", "10", "lighttpd", "-tt", "-f", str(LIGHTTPD_CONF)],
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    del env["PORT"]
    res = subprocess.run(["timeout", "10", "lighttpd", "-tt", "-f", str(LIGHTTPD_CONF)],
                         env=env, capture_output=True, text=True)
    assert res.returncode != 0 and "PORT" in res.stdout + res.stderr


def test_sanitizer_options_reach_workers(run_dir, mock):
    # run-tests.sh runs the ASan worker with these; lighttpd copies only what
    # bin-copy-environment lists, so check the workers' own environment.
    wanted = {name: os.environ.get(name) or "halt_on_error=1" for name in SANITIZER_OPTIONS}
    p = Proxy(run_dir, mock.base_url, wanted)
    try:
        status, _, raw = p.request("GET", "/health")
        assert status == 200, raw[:300]
        pids = wait_until(lambda: worker_pids(p), 10, "the worker processes")
        for pid in pids:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = dict(kv.decode().split("=", 1) for kv in f.read().split(b"\0") if kv)
            for name, value in wanted.items():
                assert env.get(name) == value, (pid, name, env.get(name))
    finally:
        p.stop()
