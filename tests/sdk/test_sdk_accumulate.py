"""Every golden stream (tests/data/translate/stream/*/anthropic.sse) replayed
through the official Anthropic TypeScript SDK's stream accumulator, pinned in
package.json / package-lock.json here and installed with `npm ci`
(tests/tools/sdk_accumulate.mjs does the replay). A stream ending in
message_stop must give a final message whose tool inputs are objects; one
ending in `event: error` must make the SDK reject."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOP = HERE.parent.parent
DATA = TOP / "tests" / "data" / "translate" / "stream"
SCRIPT = TOP / "tests" / "tools" / "sdk_accumulate.mjs"
CASES = sorted(d.name for d in DATA.iterdir() if (d / "anthropic.sse").exists())


def npm_dir():
    """Where node_modules lives: $CCP_SDK_NPM_DIR (a cache) or tests/sdk itself."""
    d = os.environ.get("CCP_SDK_NPM_DIR")
    return Path(d) if d else HERE


@pytest.fixture(scope="session")
def sdk_results():
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("node/npm are not installed (apt-get install -y nodejs npm)")
    d = npm_dir()
    if not (d / "node_modules" / "@anthropic-ai" / "sdk").exists():
        d.mkdir(parents=True, exist_ok=True)
        if d != HERE:
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(HERE / name, d / name)
        res = subprocess.run(["timeout", "600", npm, "ci", "--no-audit", "--no-fund"], cwd=d,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True)
        assert res.returncode == 0, "npm ci failed:\n" + res.stdout + res.stderr
    env = dict(os.environ, NODE_PATH=str(d))
    res = subprocess.run(["timeout", "300", node, str(SCRIPT), str(DATA)], env=env,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True)
    print(res.stdout, res.stderr)
    lines = {}
    for line in res.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[0] in ("ok", "FAIL"):
            lines[parts[1].rstrip(":")] = line
    assert lines, "no results from the SDK replay:\n" + res.stdout + res.stderr
    return lines


def test_cases_found():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_sdk_accumulates(sdk_results, case):
    line = sdk_results.get(case)
    assert line is not None, "the SDK replay did not report %s" % case
    assert line.startswith("ok "), line
