"""
Counts HTTP 429 (rate-limited) answers that aiohttp clients receive, per API host.

Tracing aiohttp and the ``http.client.request.duration`` histogram are contrib's job
(``opentelemetry-instrumentation-aiohttp-client``, entry point ``aiohttp-client``, with
``OTEL_SEMCONV_STABILITY_OPT_IN=http``): its span is named after the method only and its
metric carries ``http.request.method``, ``http.response.status_code``, ``server.address``,
``server.port`` and ``error.type``, all bounded. This
instrumentor adds what contrib lacks and nothing else, so aiohttp is never traced twice:

* ``dbsbm.api.rate_limited`` (counter) and ``dbsbm.api.retry_after`` (histogram, s),
  by ``server.address``: the host only, never the URL. The counter of every host listed
  in ``OTEL_PYTHON_AIOHTTP_RATE_LIMIT_HOSTS`` (comma-separated, or ``hosts=``) exists at 0
  from start-up: Prometheus sees no increase in a series that first appears at 1, so a
  provider's first 429s would otherwise never reach an alert;
* a ``dbsbm.api.rate_limited`` event on the caller's current span (a command's, say),
  with ``server.address`` and the Retry-After seconds.

It wraps ``ClientSession._request`` rather than adding a ``TraceConfig`` in
``ClientSession.__init__``: contrib wraps ``__init__`` and its uninstrument removes the
outermost wrapper there, which could be ours. A session created with
``raise_for_status=True`` raises on 429; that is counted too, then re-raised.

:func:`~dbsbm_instrumentation.aiohttp_client.util.strip_query` is a ``url_filter`` for
contrib's instrumentor that keeps query-string API keys out of ``url.full``.

Usage
-----

.. code-block:: python

    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from dbsbm_instrumentation.aiohttp_client import AiohttpRateLimitInstrumentor
    from dbsbm_instrumentation.aiohttp_client.util import strip_query

    AioHttpClientInstrumentor().instrument(url_filter=strip_query)
    AiohttpRateLimitInstrumentor().instrument()

Under ``opentelemetry-instrument`` it is loaded from the ``aiohttp-rate-limit`` entry
point; ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=aiohttp-rate-limit`` turns it off
(``aiohttp-client`` turns off contrib's tracing; list both to silence aiohttp entirely).

API
---
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import aiohttp
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]  # upstream module opts out of typing
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.metrics import get_meter
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS
from opentelemetry.semconv.schemas import Schemas

from dbsbm_instrumentation import semconv
from dbsbm_instrumentation._hooks import run_hook, unwrap_targets, wrap_targets
from dbsbm_instrumentation.aiohttp_client.custom_types import RateLimitHook
from dbsbm_instrumentation.aiohttp_client.package import _instruments
from dbsbm_instrumentation.aiohttp_client.util import rate_limit_hosts, retry_after_seconds
from dbsbm_instrumentation.version import __version__

__all__ = ["AiohttpRateLimitInstrumentor"]

# (module, "Class.method") pairs wrapped by instrument() and unwrapped by uninstrument().
_TARGETS = (("aiohttp.client", "ClientSession._request"),)

TOO_MANY_REQUESTS = 429
# Providers ask for seconds to minutes (API-Sports: until the next minute).
RETRY_AFTER_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)
RETRY_AFTER_SECONDS = "dbsbm.api.retry_after"  # attribute on the span event


class AiohttpRateLimitInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # BaseInstrumentor is untyped upstream
    """Rate-limit (429) metrics for aiohttp clients. See :class:`BaseInstrumentor`."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        """Keyword arguments: ``meter_provider``, ``rate_limit_hook``
        (:data:`~dbsbm_instrumentation.aiohttp_client.custom_types.RateLimitHook`),
        ``hosts`` (API hosts whose 429 counter starts at 0; default from the environment).
        """
        meter = get_meter(
            __name__, __version__, kwargs.get("meter_provider"), Schemas.V1_44_0.value
        )
        self._hook: RateLimitHook | None = kwargs.get("rate_limit_hook")
        self._rate_limited = meter.create_counter(
            semconv.API_RATE_LIMITED.name,
            unit=semconv.API_RATE_LIMITED.unit,
            description=semconv.API_RATE_LIMITED.description,
        )
        self._retry_after = meter.create_histogram(
            semconv.API_RETRY_AFTER.name,
            unit=semconv.API_RETRY_AFTER.unit,
            description=semconv.API_RETRY_AFTER.description,
            explicit_bucket_boundaries_advisory=RETRY_AFTER_BUCKETS,
        )
        for host in sorted(rate_limit_hosts(kwargs.get("hosts"))):
            self._rate_limited.add(0, {SERVER_ADDRESS: host})
        wrap_targets(_TARGETS, {name: self._count_rate_limit for _, name in _TARGETS})

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap_targets(_TARGETS)

    async def _count_rate_limit(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            response = await wrapped(*args, **kwargs)
        except aiohttp.ClientResponseError as exc:  # raise_for_status=True
            if exc.status == TOO_MANY_REQUESTS and exc.request_info is not None:
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                self._record(exc.request_info.real_url.host, retry_after)
            raise
        if response.status == TOO_MANY_REQUESTS:
            self._record(response.url.host, response.headers.get("Retry-After"))
        return response

    def _record(self, host: str | None, retry_after_header: str | None) -> None:
        if not is_instrumentation_enabled():
            return
        attributes = {SERVER_ADDRESS: (host or "").lower()}
        self._rate_limited.add(1, attributes)
        retry_after = retry_after_seconds(retry_after_header)
        if retry_after is not None:
            self._retry_after.record(retry_after, attributes)
        span = trace.get_current_span()
        if span.is_recording():
            event: dict[str, str | float] = dict(attributes)
            if retry_after is not None:
                event[RETRY_AFTER_SECONDS] = retry_after
            span.add_event(semconv.API_RATE_LIMITED_EVENT, event)
        run_hook(self._hook, span, attributes[SERVER_ADDRESS], retry_after)
