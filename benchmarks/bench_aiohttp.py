"""GET to a loopback aiohttp server: bare vs. instrumented the way the distro does it.

Instrumented = contrib's aiohttp-client (stable HTTP semconv, ``url_filter=strip_query``)
plus our 429 counter. Run: ``python benchmarks/bench_aiohttp.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
from _otel import compare, providers, report
from aiohttp import web
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

from dbsbm_instrumentation.aiohttp_client import AiohttpRateLimitInstrumentor
from dbsbm_instrumentation.aiohttp_client.util import strip_query

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.instrumentation.helpers import start_http_server  # noqa: E402  # the repo root is on sys.path from the line above

ROUTES = web.RouteTableDef()


@ROUTES.get("/odds")
async def odds(request: web.Request) -> web.Response:
    return web.json_response({"home": 1.9})


async def main() -> None:
    # read when the first instrumentor is instrumented
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    runner, base = await start_http_server(ROUTES)
    tracer_provider, meter_provider = providers()
    contrib, ours = AioHttpClientInstrumentor(), AiohttpRateLimitInstrumentor()
    sessions: list[aiohttp.ClientSession] = []

    def instrument() -> None:
        contrib.instrument(
            tracer_provider=tracer_provider, meter_provider=meter_provider, url_filter=strip_query
        )
        ours.instrument(meter_provider=meter_provider)
        sessions.append(aiohttp.ClientSession())  # contrib instruments sessions at creation

    def uninstrument() -> None:
        ours.uninstrument()
        contrib.uninstrument()
        sessions.append(aiohttp.ClientSession())

    sessions.append(aiohttp.ClientSession())

    async def get() -> object:
        async with sessions[-1].get(f"{base}/odds?league=39") as response:
            return await response.read()

    try:
        bare, instrumented = await compare(get, instrument, uninstrument, n=300, rounds=15)
        report("aiohttp GET loopback (contrib tracing + 429 counter)", bare, instrumented)
        # our part alone: the 429 counter's wrapper on every request
        bare, instrumented = await compare(
            get,
            lambda: ours.instrument(meter_provider=meter_provider),
            ours.uninstrument,
            n=300,
            rounds=15,
        )
        report("aiohttp GET loopback (429 counter only)", bare, instrumented)
    finally:
        for session in sessions:
            await session.close()
        await runner.cleanup()
        tracer_provider.shutdown()
        meter_provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
