"""Fixtures for the integration suite: the mock OpenAI upstream, lighttpd
with the top-level lighttpd.conf running ccproxy-fcgi, memcached and
ccproxy-coordd. They live in harness.py, shared with the e2e suite."""

from harness import coordd, memcached, mock, proxy, run_dir  # noqa: F401
