"""The runtime library needs the OpenTelemetry API only: a bot that wants no telemetry
installs no SDK, so no module of the package may import it.

redis-py (8.x) imports the SDK by itself when it is installed, so "no SDK module in
``sys.modules``" cannot be asked of the cache directly. The probe instead hides the SDK,
as on a machine without it, imports every module of the package, and records which file
asked for an ``opentelemetry.sdk`` module.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import dbsbm_resilience

PROBE = """
import importlib, importlib.abc, json, pkgutil, sys, traceback

class HiddenSDK(importlib.abc.MetaPathFinder):
    askers = []

    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
            frames = [f.filename for f in traceback.extract_stack()]
            # the innermost real file (not <frozen importlib...>, not this probe) imports it
            outside = [f for f in frames if not f.startswith("<")]
            HiddenSDK.askers.append([name, outside[-1] if outside else "?"])
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, HiddenSDK())
import dbsbm_resilience
names = sorted(
    "dbsbm_resilience." + m.name for m in pkgutil.iter_modules(dbsbm_resilience.__path__)
)
for name in names:
    importlib.import_module(name)
sdk = sorted(m for m in sys.modules if m.split(".")[:2] == ["opentelemetry", "sdk"])
print(json.dumps({"imported": names, "askers": HiddenSDK.askers, "sdk": sdk}))
"""


def test_every_module_imports_without_the_sdk_and_none_asks_for_it() -> None:
    """With the SDK hidden, every dbsbm_resilience module imports, none of them asks for
    an ``opentelemetry.sdk`` module, and none ends up loaded."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    package = Path(dbsbm_resilience.__file__).parent
    expected = {"dbsbm_resilience." + m.name for m in pkgutil.iter_modules([str(package)])}
    assert {"dbsbm_resilience.breaker", "dbsbm_resilience.retry"} <= expected
    assert set(report["imported"]) == expected
    ours = [(name, asker) for name, asker in report["askers"] if str(package) in asker]
    assert ours == []
    assert report["sdk"] == []


def test_modules_beside_the_cache_load_no_sdk_module() -> None:
    """With the SDK installed and visible, importing every module but the cache (whose
    redis-py imports the SDK by itself) leaves no ``opentelemetry.sdk`` module loaded."""
    package = Path(dbsbm_resilience.__file__).parent
    names = [
        "dbsbm_resilience." + m.name
        for m in pkgutil.iter_modules([str(package)])
        if m.name != "cache"
    ]
    probe = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[:2] == ['opentelemetry', 'sdk']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
