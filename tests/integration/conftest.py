"""Fixtures for the integration suite: the mock OpenAI upstream and lighttpd
with the top-level lighttpd.conf running ccproxy-fcgi (see harness.py)."""

import pytest

from harness import Mock, Proxy


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    return d


@pytest.fixture
def mock(run_dir):
    m = Mock(run_dir)
    yield m
    m.proc.stop()


@pytest.fixture
def proxy(run_dir, mock):
    # Shown with a failing test: where the logs of this run are.
    print("run dir (lighttpd-error.log, access.log, mock.log): %s" % run_dir)
    p = Proxy(run_dir, mock.base_url)
    yield p
    p.stop()
