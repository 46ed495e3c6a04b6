"""Our instrumentors load from entry points and each one can be switched off by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points

from opentelemetry.test.test_base import TestBase

OURS = {
    "aiomysql": "dbsbm_instrumentation.aiomysql:AiomysqlInstrumentor",
    "discord": "dbsbm_instrumentation.discord:DiscordInstrumentor",
    "aiohttp-rate-limit": "dbsbm_instrumentation.aiohttp_client:AiohttpRateLimitInstrumentor",
}

# Runs opentelemetry-instrument's own loader in a fresh interpreter and reports which of
# our instrumentors ended up instrumented.
_PROBE = """
import json
from importlib.metadata import entry_points
from opentelemetry.instrumentation.auto_instrumentation._load import _load_instrumentors
from opentelemetry.instrumentation.distro import DefaultDistro
_load_instrumentors(DefaultDistro())
ours = {ep.name: ep.load() for ep in entry_points(group="opentelemetry_instrumentor")
        if ep.value.startswith("dbsbm_instrumentation.")}
print(json.dumps({name: cls().is_instrumented_by_opentelemetry for name, cls in ours.items()}))
"""


def _loaded(disabled: list[str]) -> dict[str, bool]:
    others = [
        ep.name for ep in entry_points(group="opentelemetry_instrumentor") if ep.name not in OURS
    ]
    env = {**os.environ, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ",".join(others + disabled)}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


class TestEntryPoints(TestBase):
    def test_registered(self) -> None:
        """pyproject registers each instrumentor under its documented name."""
        registered = {ep.name: ep.value for ep in entry_points(group="opentelemetry_instrumentor")}
        for name, value in OURS.items():
            self.assertEqual(registered.get(name), value)

    def test_on_by_default_and_disabled_by_name(self) -> None:
        """All load under opentelemetry-instrument's loader; a disabled name stays off alone."""
        self.assertEqual(_loaded([]), dict.fromkeys(OURS, True))
        self.assertEqual(
            _loaded(["aiomysql", "aiohttp-rate-limit"]),
            {"aiomysql": False, "discord": True, "aiohttp-rate-limit": False},
        )
