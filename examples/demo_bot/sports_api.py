"""The "external" sports API the demo calls: an API-Sports look-alike served on loopback.

The server answers ``/v3/fixtures`` and ``/v3/odds`` with deterministic made-up data,
checks the ``x-apisports-key`` header like API-Sports, and misbehaves when
:class:`~examples.demo_bot.faults.Faults` says so (latency, HTTP 500, HTTP 429 with
``Retry-After``). The client calls it through ``aiohttp.ClientSession`` and caches answers
through the cache manager, as DBSBM's API services do; errors are DBSBM's
``APIException`` and ``RateLimitException``.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from dbsbm_resilience.errors import APIException, RateLimitException
from examples.demo_bot.faults import Faults
from examples.demo_bot.ttl import ODDS_TTL, spread

LEAGUES = {
    39: ("Premier League", ["Arsenal", "Chelsea", "Liverpool", "Everton", "Fulham", "Brentford"]),
    140: ("La Liga", ["Sevilla", "Valencia", "Getafe", "Osasuna", "Girona", "Alaves"]),
    135: ("Serie A", ["Torino", "Genoa", "Empoli", "Lecce", "Monza", "Verona"]),
    78: ("Bundesliga", ["Mainz", "Bochum", "Augsburg", "Freiburg", "Koln", "Union"]),
}
API_KEY_HEADER = "x-apisports-key"


def fixtures_for(league: int) -> list[dict[str, Any]]:
    """Three fixtures per league, the same on every call (seeded by the league id)."""
    name, teams = LEAGUES[league]
    rng = random.Random(league)
    shuffled = rng.sample(teams, len(teams))
    start = datetime(2026, 12, 5, 15, tzinfo=UTC)
    return [
        {
            "fixture": {
                "id": league * 1000 + i,
                "date": (start + timedelta(days=i)).isoformat(),
                "status": {"short": "NS"},
            },
            "league": {"id": league, "name": name},
            "teams": {"home": {"name": shuffled[2 * i]}, "away": {"name": shuffled[2 * i + 1]}},
        }
        for i in range(len(teams) // 2)
    ]


def odds_for(fixture_id: int) -> dict[str, Any]:
    rng = random.Random(fixture_id)
    values = [{"value": v, "odd": f"{rng.uniform(1.3, 4.5):.2f}"} for v in ("Home", "Draw", "Away")]
    return {
        "fixture": {"id": fixture_id},
        "bookmakers": [{"name": "Demo Book", "bets": [{"name": "Match Winner", "values": values}]}],
    }


def server_app(api_key: str, faults: Faults) -> web.Application:
    """The fake API-Sports server, misbehaving as ``faults`` says."""

    @web.middleware
    async def misbehave(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get(API_KEY_HEADER) != api_key:
            return web.json_response({"errors": {"token": "missing or wrong API key"}}, status=401)
        if faults.api_latency:
            await asyncio.sleep(faults.api_latency)
        if faults.roll(faults.api_429_rate):
            return web.json_response(
                {"errors": {"rateLimit": "Too many requests"}},
                status=429,
                headers={"Retry-After": "1"},
            )
        if faults.roll(faults.api_error_rate):
            return web.json_response({"errors": {"server": "internal error"}}, status=500)
        response: web.StreamResponse = await handler(request)
        return response

    def league_param(request: web.Request) -> int:
        try:
            league = int(request.query.get("league", ""))
        except ValueError:
            raise web.HTTPBadRequest(text="league must be an integer") from None
        return league

    async def fixtures(request: web.Request) -> web.Response:
        # A league with no fixtures answers an empty list, as API-Football does.
        league = league_param(request)
        data = fixtures_for(league) if league in LEAGUES else []
        return web.json_response({"results": len(data), "response": data})

    async def odds(request: web.Request) -> web.Response:
        try:
            fixture_id = int(request.query.get("fixture", ""))
        except ValueError:
            raise web.HTTPBadRequest(text="fixture must be an integer") from None
        return web.json_response({"results": 1, "response": [odds_for(fixture_id)]})

    app = web.Application(middlewares=[misbehave])
    app.router.add_get("/v3/fixtures", fixtures)
    app.router.add_get("/v3/odds", odds)
    return app


class SportsAPIClient:
    """API-Sports calls with DBSBM's header and caching (``api`` and ``odds`` prefixes)."""

    def __init__(self, base_url: str, api_key: str, cache: Any) -> None:
        self._base_url = base_url.rstrip("/")
        self._cache = cache
        self._session = aiohttp.ClientSession(
            headers={API_KEY_HEADER: api_key},
            timeout=aiohttp.ClientTimeout(total=5),
        )

    async def close(self) -> None:
        await self._session.close()

    async def _get(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        async with self._session.get(f"{self._base_url}{path}", params=params) as response:
            if response.status == 429:
                raise RateLimitException(
                    f"sports API {path} answered HTTP 429",
                    details={"endpoint": path},
                    retry_after=float(response.headers.get("Retry-After", "1")),
                )
            if response.status >= 400:
                raise APIException(
                    f"sports API {path} answered HTTP {response.status}",
                    details={"endpoint": path, "status": response.status},
                )
            body = await response.json()
        return list(body["response"])

    async def fixtures(self, league: int) -> list[dict[str, Any]]:
        key = f"fixtures:{league}"
        cached = await self._cache.get("api", key)
        if cached is not None:
            return list(cached)
        data = await self._get("/v3/fixtures", {"league": league})
        await self._cache.set("api", key, data, ttl=300)
        return data

    async def odds(self, fixture_id: int) -> dict[str, Any]:
        cached = await self._cache.get("odds", f"fixture:{fixture_id}")
        if cached is not None:
            return dict(cached)
        return await self.load_odds(fixture_id)

    async def load_odds(self, fixture_id: int) -> dict[str, Any]:
        """Fetch a fixture's odds and cache them, without a cache lookup (warming)."""
        data = (await self._get("/v3/odds", {"fixture": fixture_id}))[0]
        await self._cache.set("odds", f"fixture:{fixture_id}", data, ttl=spread(ODDS_TTL))
        return data
