"""Helpers for the agent's tests: configs written as YAML, loopback HTTP stand-ins."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dbsbm_agent.config import AgentConfig, load_config

TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., AgentConfig]:
    """Write ``text`` (dedented YAML) to agent.yaml and load it with ``environ``."""

    def make(text: str, environ: dict[str, str] | None = None) -> AgentConfig:
        path = tmp_path / "agent.yaml"
        path.write_text(textwrap.dedent(text))
        return load_config(path, environ or {})

    return make


HttpServe = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def http_serve() -> AsyncIterator[HttpServe]:
    """Serve an aiohttp app on 127.0.0.1; returns its base URL (no trailing slash)."""
    servers: list[TestServer] = []

    async def serve(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield serve
    for server in servers:
        await server.close()


AUTHORIZATIONS = web.AppKey("authorizations", list[str | None])


def discord_stand_in(status: int, body: dict[str, object] | None = None) -> web.Application:
    """A loopback stand-in for Discord's ``GET /users/@me`` that records what it got."""
    app = web.Application()
    app[AUTHORIZATIONS] = []

    async def me(request: web.Request) -> web.Response:
        app[AUTHORIZATIONS].append(request.headers.get("Authorization"))
        return web.json_response(body or {"message": "401: Unauthorized", "code": 0}, status=status)

    app.router.add_get("/api/v10/users/@me", me)
    return app
