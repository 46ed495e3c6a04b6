"""Shared by the instrumentation tests: metric lookup and a loopback HTTP server."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from opentelemetry.sdk.metrics.export import Metric
from opentelemetry.test.test_base import TestBase


def metric(test: TestBase, name: str) -> Metric:
    """The one metric called ``name`` the test's reader collected (fails if absent)."""
    found = [m for m in test.get_sorted_metrics() if m.name == name]
    test.assertEqual(len(found), 1, f"expected one metric {name!r}, got {len(found)}")
    return found[0]


def points(test: TestBase, name: str) -> list[Any]:
    return list(metric(test, name).data.data_points)


def metric_names(test: TestBase) -> set[str]:
    return {m.name for m in test.get_sorted_metrics()}


async def start_http_server(routes: web.RouteTableDef) -> tuple[web.AppRunner, str]:
    """An aiohttp.web server on 127.0.0.1, port 0; returns the runner and its base URL."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"
