"""/livez, /readyz, /health (application/health+json) and /report: shapes and codes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer

from dbsbm_agent.config import AgentConfig, load_config
from dbsbm_agent.probers import host as host_prober
from dbsbm_agent.probers.host import HostReadings
from dbsbm_agent.server import Agent, create_app
from tests.services import RedisService, free_port

# draft-inadarei-api-health-check, the parts we emit.
HEALTH_SCHEMA = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"enum": ["pass", "warn", "fail"]},
        "notes": {"type": "array", "items": {"type": "string"}},
        "checks": {
            "type": "object",
            "propertyNames": {"pattern": "^[^:]+:[^:]+$"},
            "additionalProperties": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["componentId", "componentType", "status", "time", "output"],
                    "properties": {
                        "componentType": {"enum": ["datastore", "component", "system"]},
                        "status": {"enum": ["pass", "warn", "fail"]},
                        "observedUnit": {"type": "string"},
                        "observedValue": {"type": "number"},
                        "time": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT.*Z$"},
                    },
                },
            },
        },
    },
}

Client = Callable[[AgentConfig], Awaitable[tuple[Agent, TestClient[Any, Any]]]]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    """An Agent (not started: tests drive cycles) behind a loopback test server."""
    clients: list[TestClient[Any, Any]] = []

    async def make(config: AgentConfig) -> tuple[Agent, TestClient[Any, Any]]:
        agent = Agent(config)
        test_client = TestClient(TestServer(create_app(agent), host="127.0.0.1"))
        await test_client.start_server()
        clients.append(test_client)
        return agent, test_client

    yield make
    for test_client in clients:
        await test_client.close()


@pytest.fixture(autouse=True)
def busy_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory at 85 % (warn), CPU and disk low, whatever this machine is doing."""
    monkeypatch.setattr(host_prober, "host_reader", lambda path: HostReadings(0.85, 0.1, 0.2))


@pytest.mark.integration
async def test_all_working_with_a_warning(
    redis_server: RedisService,
    make_config: Callable[..., AgentConfig],
    client: Client,
) -> None:
    """Redis up, memory at 85 %, no Discord token: ready, health warn (200), skip in notes."""
    agent, http = await client(
        make_config(
            """
        probes:
          redis: {required: true}
          host: {}
          discord: {}
    """,
            {"REDIS_URL": redis_server.url},
        )
    )
    response = await http.get("/readyz")
    assert response.status == 503  # nothing has run yet
    assert (await response.json())["failing"] == ["redis", "discord"]
    await agent.scheduler.run_once()

    response = await http.get("/health")
    assert response.status == 200
    assert response.content_type == "application/health+json"
    body = await response.json()
    jsonschema.validate(body, HEALTH_SCHEMA)
    assert body["status"] == "warn"
    assert sorted(body["checks"]) == [
        "host:cpuUtilization",
        "host:diskUtilization",
        "host:memoryUtilization",
        "redis:responseTime",
    ]
    redis_check = body["checks"]["redis:responseTime"][0]
    assert redis_check["componentId"] == f"redis://127.0.0.1:{redis_server.port}/0"
    assert (redis_check["componentType"], redis_check["status"], redis_check["observedUnit"]) == (
        "datastore",
        "pass",
        "ms",
    )
    memory = body["checks"]["host:memoryUtilization"][0]
    assert (memory["observedValue"], memory["observedUnit"], memory["status"]) == (
        85.0,
        "percent",
        "warn",
    )
    assert memory["output"] == "memory 85 %, at or above 80 %"
    assert body["notes"] == ["discord: skipped: no bot token configured (set DISCORD_TOKEN)"]

    response = await http.get("/readyz")
    assert (response.status, await response.json()) == (200, {"status": "pass", "failing": []})
    response = await http.get("/livez")
    assert (response.status, await response.json()) == (200, {"status": "pass", "problems": []})

    await agent.scheduler.run_once()
    report = await (await http.get("/report")).json()
    assert report["status"] == "warn"
    redis = report["probes"]["redis"]
    assert (redis["runs"], redis["successes"], redis["success_ratio"], redis["last_status"]) == (
        2,
        2,
        1.0,
        "pass",
    )
    assert redis["average_response_time_ms"] > 0
    assert report["probes"]["discord"]["skipped"] == 2
    assert report["probes"]["discord"]["success_ratio"] is None


async def test_required_probe_failing(
    make_config: Callable[..., AgentConfig], client: Client
) -> None:
    """A required probe failing: /readyz and /health answer 503, /livez stays 200.

    A required probe skipped because its dependency failed is not ready either.
    """
    agent, http = await client(
        make_config(f"""
        probes:
          redis: {{url: "redis://127.0.0.1:{free_port()}/0", required: true, timeout: 1}}
          host: {{depends_on: [redis], required: true}}
    """)
    )
    await agent.scheduler.run_once()
    response = await http.get("/readyz")
    assert (response.status, await response.json()) == (
        503,
        {"status": "fail", "failing": ["redis", "host"]},
    )
    response = await http.get("/health")
    assert response.status == 503
    body = await response.json()
    jsonschema.validate(body, HEALTH_SCHEMA)
    assert body["status"] == "fail"
    assert body["checks"]["redis:responseTime"][0]["status"] == "fail"
    assert body["notes"] == ["host: skipped: depends on redis, which failed"]
    assert (await http.get("/livez")).status == 200


async def test_optional_probe_failing_only_warns(
    make_config: Callable[..., AgentConfig], client: Client
) -> None:
    """A failing probe that is not required leaves the bot ready; /health says warn."""
    agent, http = await client(
        make_config(f"""
        probes:
          redis: {{url: "redis://127.0.0.1:{free_port()}/0", timeout: 1}}
    """)
    )
    await agent.scheduler.run_once()
    assert (await http.get("/readyz")).status == 200
    response = await http.get("/health")
    assert (response.status, (await response.json())["status"]) == (200, "warn")


async def test_reload_keeps_old_config_on_error(tmp_path: Path) -> None:
    """SIGHUP's reload: a bad file keeps the old probes and records the failure."""
    path = tmp_path / "agent.yaml"
    path.write_text("probes: {host: {}}\n")
    agent = Agent(load_config(path, {}))
    path.write_text("probes: {host: {timeout: -1}}\n")
    assert await agent.reload() is False
    assert agent.scheduler.config_reload_successful is False
    assert list(agent.config.probes) == ["host"]
    path.write_text("probes: {host: {}, host2: {kind: host}}\n")
    assert await agent.reload(lambda source: load_config(source, {})) is True
    assert list(agent.scheduler.config.probes) == ["host", "host2"]
    assert agent.scheduler.config_reload_successful is True
    await agent.stop()
