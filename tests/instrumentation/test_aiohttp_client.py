"""aiohttp client telemetry: contrib's tracing on stable HTTP semconv plus our 429 counting,
against a real aiohttp.web server on loopback."""

from __future__ import annotations

import logging
import os
from typing import Any
from unittest import IsolatedAsyncioTestCase, mock

import aiohttp
import aiohttp.client
import wrapt
from aiohttp import web
from opentelemetry.instrumentation._semconv import _OpenTelemetrySemanticConventionStability
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
)
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.attributes.url_attributes import URL_FULL
from opentelemetry.test.test_base import TestBase
from opentelemetry.trace import Span, SpanKind

from dbsbm_instrumentation import semconv
from dbsbm_instrumentation.aiohttp_client import RETRY_AFTER_SECONDS, AiohttpRateLimitInstrumentor
from dbsbm_instrumentation.aiohttp_client.util import (
    RATE_LIMIT_HOSTS_ENV,
    rate_limit_hosts,
    retry_after_seconds,
    strip_query,
)
from tests.instrumentation.helpers import metric, metric_names, points, start_http_server

ROUTES = web.RouteTableDef()


@ROUTES.get("/fixtures")
async def fixtures(request: web.Request) -> web.Response:
    return web.json_response({"response": []})


@ROUTES.get("/limited")
async def limited(request: web.Request) -> web.Response:
    return web.json_response(
        {"errors": {"rateLimit": "Too many requests"}}, status=429, headers={"Retry-After": "30"}
    )


class TestRetryAfter(TestBase):
    def test_seconds_and_dates(self) -> None:
        """Retry-After is parsed as delta-seconds or an HTTP date; junk gives None."""
        self.assertEqual(retry_after_seconds("30"), 30.0)
        self.assertEqual(
            retry_after_seconds("Thu, 01 Jan 2026 00:01:00 GMT", now=1767225600.0), 60.0
        )
        self.assertEqual(
            retry_after_seconds("Thu, 01 Jan 2026 00:00:00 GMT", now=1767225660.0), 0.0
        )
        self.assertIsNone(retry_after_seconds("soon"))
        self.assertIsNone(retry_after_seconds(None))


class TestRateLimitHosts(TestBase):
    def test_env_and_argument(self) -> None:
        """Hosts come from the argument, else the env variable; a malformed entry is
        skipped with one warning line naming the variable."""
        self.assertEqual(rate_limit_hosts([" API.Example.com ", ""]), {"api.example.com"})
        env = {RATE_LIMIT_HOSTS_ENV: "v3.football.api-sports.io, https://odds.example/v1"}
        with mock.patch.dict(os.environ, env), self.assertLogs(level=logging.WARNING) as logs:
            self.assertEqual(rate_limit_hosts(), {"v3.football.api-sports.io"})
        (line,) = logs.output
        self.assertIn(RATE_LIMIT_HOSTS_ENV, line)
        self.assertIn("https://odds.example/v1", line)
        with mock.patch.dict(os.environ, clear=True):
            self.assertEqual(rate_limit_hosts(), frozenset())


class TestAiohttpClient(TestBase, IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        # contrib reads OTEL_SEMCONV_STABILITY_OPT_IN once per process; make it re-read.
        env = mock.patch.dict(os.environ, {"OTEL_SEMCONV_STABILITY_OPT_IN": "http"})
        env.start()
        self.addCleanup(env.stop)
        _OpenTelemetrySemanticConventionStability._initialized = False
        self.addCleanup(setattr, _OpenTelemetrySemanticConventionStability, "_initialized", False)
        AioHttpClientInstrumentor().instrument(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            url_filter=strip_query,
        )
        self.instrumentor = AiohttpRateLimitInstrumentor()
        self.instrumentor.instrument(meter_provider=self.meter_provider)
        self.runner, self.base = await start_http_server(ROUTES)
        self.port = int(self.base.rsplit(":", 1)[1])

    async def asyncTearDown(self) -> None:
        await self.runner.cleanup()
        self.instrumentor.uninstrument()
        AioHttpClientInstrumentor().uninstrument()

    async def get(self, path: str, **session_kwargs: Any) -> int:
        async with (
            aiohttp.ClientSession(**session_kwargs) as session,
            session.get(self.base + path) as response,
        ):
            await response.read()
            return response.status

    async def test_one_bounded_span_and_metric(self) -> None:
        """One CLIENT span named by method; the duration metric is labelled by host, not URL."""
        self.assertEqual(await self.get("/fixtures?league=39&key=secret-api-key"), 200)
        (span,) = self.get_finished_spans()
        self.assertEqual(span.name, "GET")
        self.assertIs(span.kind, SpanKind.CLIENT)
        self.assertEqual(span.attributes[URL_FULL], self.base + "/fixtures")
        duration = metric(self, semconv.HTTP_CLIENT_DURATION.name)
        self.assertEqual(duration.unit, "s")
        (point,) = duration.data.data_points
        self.assertEqual(
            dict(point.attributes),
            {
                HTTP_REQUEST_METHOD: "GET",
                HTTP_RESPONSE_STATUS_CODE: 200,
                SERVER_ADDRESS: "127.0.0.1",
                SERVER_PORT: self.port,
            },
        )
        self.assertNotIn(semconv.API_RATE_LIMITED.name, metric_names(self))

    async def test_429_counted_per_host(self) -> None:
        """A 429 counts once for its host, records Retry-After and marks the caller's span."""
        tracer = self.tracer_provider.get_tracer(__name__)
        with tracer.start_as_current_span("command"):
            self.assertEqual(await self.get("/limited"), 429)
        (counted,) = points(self, semconv.API_RATE_LIMITED.name)
        self.assertEqual(
            (counted.value, dict(counted.attributes)), (1, {SERVER_ADDRESS: "127.0.0.1"})
        )
        (retry,) = points(self, semconv.API_RETRY_AFTER.name)
        self.assertEqual((retry.sum, metric(self, semconv.API_RETRY_AFTER.name).unit), (30, "s"))
        request, command = self.get_finished_spans()
        self.assertEqual(request.attributes[ERROR_TYPE], "429")
        (event,) = command.events
        self.assertEqual(event.name, semconv.API_RATE_LIMITED_EVENT)
        self.assertEqual(
            dict(event.attributes), {SERVER_ADDRESS: "127.0.0.1", RETRY_AFTER_SECONDS: 30.0}
        )

    async def test_known_hosts_start_at_zero(self) -> None:
        """A listed host's 429 counter exists at 0 before any request, so the first 429
        is an increase Prometheus can see; other hosts are untouched."""
        self.instrumentor.uninstrument()
        self.instrumentor.instrument(
            meter_provider=self.meter_provider, hosts=["api.example.com", "127.0.0.1"]
        )
        counted = {
            p.attributes[SERVER_ADDRESS]: p.value
            for p in points(self, semconv.API_RATE_LIMITED.name)
        }
        self.assertEqual(counted, {"api.example.com": 0, "127.0.0.1": 0})
        self.assertEqual(await self.get("/limited"), 429)
        counted = {
            p.attributes[SERVER_ADDRESS]: p.value
            for p in points(self, semconv.API_RATE_LIMITED.name)
        }
        self.assertEqual(counted, {"api.example.com": 0, "127.0.0.1": 1})

    async def test_429_with_raise_for_status(self) -> None:
        """Sessions that raise on 4xx still count the 429, and the error reaches the caller."""
        with self.assertRaises(aiohttp.ClientResponseError):
            await self.get("/limited", raise_for_status=True)
        (counted,) = points(self, semconv.API_RATE_LIMITED.name)
        self.assertEqual(counted.value, 1)

    async def test_failing_hook_is_logged(self) -> None:
        """A rate_limit_hook that raises is logged at WARNING; the response still arrives."""
        self.instrumentor.uninstrument()

        def hook(span: Span, host: str, retry_after: float | None) -> None:
            raise RuntimeError("hook bug")

        self.instrumentor.instrument(meter_provider=self.meter_provider, rate_limit_hook=hook)
        with self.assertLogs("dbsbm_instrumentation._hooks", logging.WARNING):
            self.assertEqual(await self.get("/limited"), 429)

    async def test_uninstrument(self) -> None:
        """uninstrument() removes our wrapper and leaves contrib's tracing alone."""
        self.instrumentor.uninstrument()
        self.assertNotIsInstance(vars(aiohttp.client.ClientSession)["_request"], wrapt.ObjectProxy)
        self.assertEqual(await self.get("/limited"), 429)
        self.assertNotIn(semconv.API_RATE_LIMITED.name, metric_names(self))
        self.assertEqual(len(self.get_finished_spans()), 1)
        self.instrumentor.instrument(meter_provider=self.meter_provider)
