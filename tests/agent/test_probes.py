"""Probers against real Redis and MariaDB, loopback HTTP servers and injected host readings."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import pytest
from aiohttp import web

from dbsbm_agent.config import AgentConfig
from dbsbm_agent.probers import PROBERS
from dbsbm_agent.probers import host as host_prober
from dbsbm_agent.probers.base import ProbeResult, Recorder, Status
from dbsbm_agent.probers.host import HostReadings
from dbsbm_instrumentation import semconv
from tests.services import MySQLService, RedisService, free_port

from .conftest import AUTHORIZATIONS, HttpServe, discord_stand_in

logger = logging.getLogger("test.agent")


async def run(config: AgentConfig, name: str) -> tuple[ProbeResult, Recorder]:
    """Call a prober the way the runner does, without the runner."""
    probe = config.probes[name]
    registry = Recorder()
    return await PROBERS[probe.kind](probe.target, probe, registry, logger), registry


def test_probers_share_one_signature() -> None:
    """PROBERS maps every configurable kind to a prober, blackbox style."""
    assert sorted(PROBERS) == ["discord", "host", "http", "mysql", "redis"]


@pytest.mark.integration
async def test_mysql_select_1(
    mysql_server: MySQLService, make_config: Callable[..., AgentConfig]
) -> None:
    """Against a live MariaDB the probe connects, runs SELECT 1 and reports milliseconds."""
    config = make_config("probes: {mysql: {latency_warn: 5}}", mysql_server.env)
    result, _ = await run(config, "mysql")
    assert result.status is Status.PASS, result.output
    assert result.observed_unit == "ms" and result.observed_value is not None
    assert result.output.startswith("SELECT 1 in ")


@pytest.mark.integration
async def test_mysql_wrong_password_fails_with_cause(
    mysql_server: MySQLService,
    make_config: Callable[..., AgentConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A rejected login is a fail result (not an exception), logged with structured fields."""
    config = make_config("probes: {mysql: {}}", {**mysql_server.env, "MYSQL_PASSWORD": "nope"})
    with caplog.at_level(logging.WARNING):
        result, _ = await run(config, "mysql")
    assert result.status is Status.FAIL
    assert "Access denied" in result.output
    record = caplog.records[-1]
    assert (record.__dict__["probe"], record.__dict__["probe_kind"]) == ("mysql", "mysql")
    assert record.__dict__["error.type"] == "OperationalError"
    assert "nope" not in caplog.text


@pytest.mark.integration
async def test_redis_round_trip_leaves_no_key(
    redis_server: RedisService, make_config: Callable[..., AgentConfig]
) -> None:
    """PING plus set/get/delete on the agent's own key passes and deletes the key."""
    import redis.asyncio as aioredis

    config = make_config("probes: {redis: {key: agent-test-key}}", {"REDIS_URL": redis_server.url})
    result, _ = await run(config, "redis")
    assert result.status is Status.PASS, result.output
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await client.exists("agent-test-key") == 0
    finally:
        await client.aclose()


async def test_redis_refused_fails_fast(make_config: Callable[..., AgentConfig]) -> None:
    """A closed port fails at once: no redis-py retries stretch it out."""
    config = make_config(f"probes: {{redis: {{url: 'redis://127.0.0.1:{free_port()}/0'}}}}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    result, _ = await run(config, "redis")
    assert result.status is Status.FAIL
    assert "Connect" in result.output or "refused" in result.output
    assert loop.time() - started < 1.0


async def test_http_status_and_latency(
    http_serve: HttpServe, make_config: Callable[..., AgentConfig]
) -> None:
    """Expected status passes, a slow answer warns, an unexpected status fails."""

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(0.15)
        return web.Response(text="slow")

    async def broken(_: web.Request) -> web.Response:
        return web.Response(status=503)

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/slow", slow)
    app.router.add_get("/broken", broken)
    base = await http_serve(app)
    config = make_config(f"""
        probes:
          ok: {{kind: http, url: "{base}/ok", expected_status: [200]}}
          slow: {{kind: http, url: "{base}/slow", latency_warn: 0.05}}
          broken: {{kind: http, url: "{base}/broken"}}
    """)
    result, registry = await run(config, "ok")
    assert result.status is Status.PASS, result.output
    assert [(o.instrument, o.value) for o in registry.observations] == [
        (semconv.PROBE_HTTP_STATUS_CODE, 200)
    ]
    result, _ = await run(config, "slow")
    assert result.status is Status.WARN
    assert result.output.endswith("above 50 ms")
    result, _ = await run(config, "broken")
    assert result.status is Status.FAIL
    assert result.output == f"GET {base}/broken: status 503, expected 2xx"


async def test_http_sends_every_header_the_config_accepts(
    http_serve: HttpServe, make_config: Callable[..., AgentConfig]
) -> None:
    """What the config lets through, the HTTP client sends: every token character in a
    name, a tab inside a value, a value from the environment."""
    received: list[dict[str, str]] = []

    async def echo(request: web.Request) -> web.Response:
        received.append(dict(request.headers))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", echo)
    base = await http_serve(app)
    config = make_config(
        rf"""
        probes:
          api:
            kind: http
            url: "{base}/"
            headers: {{"!#$%&'*+-.^_`|~09azAZ": "a\tb"}}
            headers_from_env: {{X-Key: API_KEY}}
    """,
        {"API_KEY": "k\tv"},
    )
    result, _ = await run(config, "api")
    assert result.status is Status.PASS, result.output
    assert received[0]["!#$%&'*+-.^_`|~09azAZ"] == "a\tb"
    assert received[0]["X-Key"] == "k\tv"


async def test_discord_without_token_is_skipped(
    make_config: Callable[..., AgentConfig],
) -> None:
    """No DISCORD_TOKEN: reported as skipped with the reason, nothing is requested."""
    result, _ = await run(make_config("probes: {discord: {}}"), "discord")
    assert result.status is Status.SKIP
    assert result.output == "skipped: no bot token configured (set DISCORD_TOKEN)"


async def test_discord_token_rejected(
    http_serve: HttpServe, make_config: Callable[..., AgentConfig]
) -> None:
    """A 401 from the (loopback stand-in) API fails with "token rejected"."""
    stand_in = discord_stand_in(401)
    base = await http_serve(stand_in)
    config = make_config(
        f"probes: {{discord: {{base_url: '{base}/api/v10'}}}}", {"DISCORD_TOKEN": "bad.token"}
    )
    result, registry = await run(config, "discord")
    assert result.status is Status.FAIL
    assert result.output == "token rejected (401)"
    assert stand_in[AUTHORIZATIONS] == ["Bot bad.token"]
    assert registry.observations[0].value == 401


async def test_discord_token_accepted(
    http_serve: HttpServe, make_config: Callable[..., AgentConfig]
) -> None:
    """A 200 from /users/@me passes and names the bot user."""
    base = await http_serve(discord_stand_in(200, {"id": "1", "username": "dbsbm"}))
    config = make_config(
        f"probes: {{discord: {{base_url: '{base}/api/v10'}}}}", {"DISCORD_TOKEN": "good.token"}
    )
    result, _ = await run(config, "discord")
    assert result.status is Status.PASS, result.output
    assert result.output.startswith("token accepted for dbsbm in ")


async def test_discord_unreachable_fails(make_config: Callable[..., AgentConfig]) -> None:
    """Discord's REST API not answering (a closed loopback port) fails with the cause."""
    base = f"http://127.0.0.1:{free_port()}/api/v10"
    config = make_config(
        f"probes: {{discord: {{base_url: '{base}'}}}}", {"DISCORD_TOKEN": "some.token"}
    )
    result, registry = await run(config, "discord")
    assert result.status is Status.FAIL
    assert result.output.startswith(f"Discord API at {base}: Cannot connect to host")
    assert registry.observations == []


async def test_discord_rate_limited_warns(
    http_serve: HttpServe, make_config: Callable[..., AgentConfig]
) -> None:
    """A 429 means Discord answered but did not check the token: warn, still ok."""
    base = await http_serve(
        discord_stand_in(
            429, {"message": "You are being rate limited.", "retry_after": 1.5, "global": False}
        )
    )
    config = make_config(
        f"probes: {{discord: {{base_url: '{base}/api/v10'}}}}", {"DISCORD_TOKEN": "good.token"}
    )
    result, registry = await run(config, "discord")
    assert result.status is Status.WARN
    assert result.ok
    assert result.output == "rate limited (429): token not checked"
    assert registry.observations[0].value == 429


@pytest.mark.parametrize(
    ("memory", "cpu", "disk", "status", "statuses"),
    [
        (0.50, 0.10, 0.20, Status.PASS, ["pass", "pass", "pass"]),
        (0.80, 0.10, 0.20, Status.WARN, ["warn", "pass", "pass"]),
        (0.50, 0.95, 0.85, Status.FAIL, ["pass", "fail", "warn"]),
        (0.79, 0.89, 0.90, Status.FAIL, ["pass", "warn", "fail"]),
    ],
)
async def test_host_thresholds(
    memory: float,
    cpu: float,
    disk: float,
    status: Status,
    statuses: list[str],
    monkeypatch: pytest.MonkeyPatch,
    make_config: Callable[..., AgentConfig],
) -> None:
    """80 % warns and 90 % fails, per resource; the worst one is the probe's status."""
    monkeypatch.setattr(host_prober, "host_reader", lambda path: HostReadings(memory, cpu, disk))
    result, registry = await run(make_config("probes: {host: {}}"), "host")
    assert result.status is status
    assert [o.measurement for o in registry.observations] == [
        "memoryUtilization",
        "cpuUtilization",
        "diskUtilization",
    ]
    assert [str(o.status) for o in registry.observations] == statuses
    assert registry.observations[0].observed_value == round(memory * 100, 1)
    assert registry.observations[0].observed_unit == "percent"


async def test_host_reads_psutil_off_the_event_loop(
    make_config: Callable[..., AgentConfig],
) -> None:
    """The real reader returns ratios in 0..1 and runs in a worker thread."""
    threads: list[str] = []
    real = host_prober.read_host

    def reader(path: str) -> HostReadings:
        threads.append(threading.current_thread().name)
        return real(path)

    host_prober.host_reader = reader
    try:
        result, registry = await run(make_config("probes: {host: {}}"), "host")
    finally:
        host_prober.host_reader = real
    assert threads and threads[0] != threading.main_thread().name
    assert all(0 <= o.value <= 1 for o in registry.observations)
    assert result.status in (Status.PASS, Status.WARN, Status.FAIL)


def test_first_cpu_reading_in_a_thread_is_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    """psutil's first non-blocking reading in a thread is an unprimed 0 %: sample instead."""
    import psutil

    intervals: list[float | None] = []
    real = psutil.cpu_percent

    def cpu_percent(interval: float | None = None) -> float:
        intervals.append(interval)
        return real(interval=interval)

    monkeypatch.setattr(psutil, "cpu_percent", cpu_percent)
    thread = threading.Thread(target=lambda: [host_prober.read_host("/") for _ in range(2)])
    thread.start()
    thread.join()
    assert intervals == [host_prober.CPU_PRIME_SECONDS, None]


async def test_host_reads_share_one_thread(
    monkeypatch: pytest.MonkeyPatch, make_config: Callable[..., AgentConfig]
) -> None:
    """Every run reads in the same thread, where psutil keeps the previous CPU sample."""
    threads: list[str] = []

    def reader(path: str) -> HostReadings:
        threads.append(threading.current_thread().name)
        return HostReadings(0.1, 0.1, 0.1)

    monkeypatch.setattr(host_prober, "host_reader", reader)
    config = make_config("probes: {host: {}}")
    for _ in range(3):
        await run(config, "host")
    assert len(set(threads)) == 1 and threads[0].startswith("dbsbm-agent-host")
