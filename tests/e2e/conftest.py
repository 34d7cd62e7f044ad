"""Fixtures for the end-to-end suite: the real Claude Code CLI talking to
lighttpd -> ccproxy-fcgi -> the mock OpenAI upstream. Two versions, each
pinned with package.json / package-lock.json and installed with `npm ci`:
the current one here, an older one in old/. Every test runs with both."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

from harness import mock, proxy, run_dir  # noqa: E402,F401

# version -> the directory (under tests/e2e) with its package.json and lock
CLAUDE_VERSIONS = {"2.1.331": "", "2.1.197": "old"}


def npm_dir(sub):
    """Where node_modules lives: $CCP_NPM_DIR/<sub> (a cache) or tests/e2e/<sub>."""
    d = os.environ.get("CCP_NPM_DIR")
    return (Path(d) if d else HERE) / sub


@pytest.fixture(scope="session", params=list(CLAUDE_VERSIONS))
def claude_bin(request):
    version = request.param
    sub = CLAUDE_VERSIONS[version]
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot install the Claude Code CLI "
                    "(apt-get install -y npm)")
    d = npm_dir(sub)
    claude = d / "node_modules" / ".bin" / "claude"
    if not claude.exists():
        d.mkdir(parents=True, exist_ok=True)
        if d != HERE / sub:
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(HERE / sub / name, d / name)
        res = subprocess.run(["timeout", "600", npm, "ci", "--no-audit", "--no-fund"], cwd=d,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True)
        assert res.returncode == 0, "npm ci failed:\n" + res.stdout + res.stderr
    res = subprocess.run(["timeout", "60", str(claude), "--version"], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(version), res.stdout
    return claude


@pytest.fixture
def run_claude(claude_bin, proxy, tmp_path):
    """Run `claude -p PROMPT [ARGS]` offline against the proxy; returns the result."""
    home = tmp_path / "home"
    project = tmp_path / "project"
    home.mkdir()
    project.mkdir()
    node_dir = os.path.dirname(shutil.which("node") or "/usr/bin/node")
    env = {
        "PATH": "%s:/usr/local/bin:/usr/bin:/bin" % node_dir,
        "TERM": "dumb",
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:%d" % proxy.port,
        "ANTHROPIC_API_KEY": "sk-test",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "2",
    }

    def run(prompt, *args, extra_env=None):
        res = subprocess.run(["timeout", "120", str(claude_bin), "-p", prompt] + list(args),
                             env=dict(env, **(extra_env or {})), cwd=project,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True)
        print("claude exit %d\nstdout:\n%s\nstderr:\n%s" % (res.returncode, res.stdout,
                                                              res.stderr))
        return res

    run.project = project
    return run
