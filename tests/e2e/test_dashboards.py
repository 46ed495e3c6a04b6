"""End to end: every dashboard panel answers with data from a healthy demo run.

The stack is the demo's own (``examples.demo_bot.launch.Demo``: Redis, MariaDB, Prometheus,
our collector, the file sink, the health agent and the demo bot with no fault injected),
on free ports; its Prometheus scrapes the collector's own metrics on loopback, where the
shipped config names the collector by its docker-compose host. Each query of each
generated dashboard JSON, its template variables substituted as Grafana would, runs
against that Prometheus. A panel may stay empty only when its description says why
("No data until ..."), the reason the generator writes from the panel's definition.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.collector import CollectorPorts
from devstack.process import LOOPBACK
from examples.demo_bot.launch import Demo, Ports
from tests import services

pytestmark = pytest.mark.e2e

DASHBOARDS = sorted((services.REPO / "deploy/grafana/provisioning/dashboards/dbsbm").glob("*.json"))
# How long the slowest source takes to show: metrics every 10 s, probes every 15-30 s,
# the collector scraped every 15 s, and two samples before a rate() has a value.
SETTLE_SECONDS = 150
# Grafana's built-in variables, as it would fill them on a 15 s scrape interval.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
# Grafana's "No data" reason, as dashboards.Panel.text writes it.
EMPTY_REASON = re.compile(r"(?:^|\s)No data \S")


class ScrapedDemo(Demo):
    """The demo on free ports, not its usual ones: a demo someone runs alongside keeps its own.

    Prometheus scrapes itself and the collector on loopback, as the demo's always does.
    """

    @staticmethod
    def require() -> None:
        """What the demo runs, each missing one failing under CI with what to install."""
        for binary, package in (
            ("redis-server", "redis-server"),
            ("mariadbd", "mariadb-server"),
            ("prometheus", "prometheus"),
            ("dbsbm-agent", "the repo (pip install -e .)"),
            ("opentelemetry-instrument", "the repo (pip install -e .)"),
        ):
            services.require_binary(binary, package)
        services.collector_binary()

    def __init__(self, workdir: Path, rate: float) -> None:
        super().__init__(workdir, rate)
        free = services.free_port
        self.ports = Ports(
            redis=free(),
            mysql=free(),
            prometheus=free(),
            collector=CollectorPorts(),
            sink=CollectorPorts(),
            agent=free(),
            bot_api=free(),
            bot_control=free(),
        )


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The healthy demo, running for the module; its Prometheus' URL."""
    ScrapedDemo.require()
    demo = ScrapedDemo(tmp_path_factory.mktemp("dashboards"), rate=6)
    try:
        demo.start_all()
        yield f"http://{LOOPBACK}:{demo.ports.prometheus}"
    finally:
        demo.stop_all()


def substitute(expr: str, dashboard: dict[str, Any]) -> str:
    """``expr`` with the dashboard's variables and Grafana's built-ins filled in."""
    values = dict(BUILTINS)
    for variable in dashboard.get("templating", {}).get("list", []):
        current = variable.get("current", {}).get("value", ".*")
        values[variable["name"]] = ".*" if current in ("$__all", ["$__all"]) else str(current)
    for name, value in sorted(values.items(), key=lambda item: -len(item[0])):
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in expr, f"a variable left unfilled in {expr}"
    return expr


def query(url: str, expr: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(
        f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}), timeout=10
    ) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def answers(url: str, expr: str) -> bool:
    """Whether ``expr`` returns at least one number (NaN is what Grafana shows as no value)."""
    return any(not math.isnan(float(s["value"][1])) for s in query(url, expr))


def panels() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        found += [(path.stem, dashboard, panel) for panel in dashboard["panels"]]
    return found


def test_substitute_fills_variables_and_builtins() -> None:
    """Variables (``$job``, ``${job}``, "All") and built-ins are filled in; none is left."""
    dashboard = {
        "templating": {
            "list": [
                {"name": "job", "current": {"value": "bot"}},
                {"name": "server", "current": {"value": ["$__all"]}},
            ]
        }
    }
    expr = 'rate(x{job="$job", s=~"${server}"}[$__rate_interval])'
    assert substitute(expr, dashboard) == 'rate(x{job="bot", s=~".*"}[1m])'
    with pytest.raises(AssertionError, match="unfilled"):
        substitute("x{a=$missing}", dashboard)


def test_every_panel_answers_in_a_healthy_demo(prometheus_url: str) -> None:
    """Each query of each panel returns data, unless its description says why it may not."""
    pending = {
        (stem, panel["id"], target["refId"]): substitute(target["expr"], dashboard)
        for stem, dashboard, panel in panels()
        if not EMPTY_REASON.search(panel["description"])
        for target in panel["targets"]
    }
    assert len(pending) > 30, "the dashboards' queries were not found"
    assert any(stem == "pipeline" for stem, _, _ in pending), "no Pipeline dashboard"
    deadline = time.monotonic() + SETTLE_SECONDS
    while pending and time.monotonic() < deadline:
        pending = {key: expr for key, expr in pending.items() if not answers(prometheus_url, expr)}
        time.sleep(2)
    titles = {(stem, p["id"]): p["title"] for stem, _, p in panels()}
    empty = [
        f"{stem} / {titles[stem, i]} ({ref}): {expr}" for (stem, i, ref), expr in pending.items()
    ]
    assert not empty, "panels without data and without a reason:\n" + "\n".join(empty)


def test_panels_allowed_to_be_empty_say_why() -> None:
    """The allow-list is what the panels say: a reason after "No data", never a bare mark."""
    allowed = [p for _, _, p in panels() if EMPTY_REASON.search(p["description"])]
    for panel in allowed:
        assert re.search(r"No data \w+ [^.]{10,}\.", panel["description"]), panel["title"]
