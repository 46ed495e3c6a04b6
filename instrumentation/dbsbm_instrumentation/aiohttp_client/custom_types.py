"""Hook signatures accepted by :class:`AiohttpRateLimitInstrumentor`."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.trace import Span

# rate_limit_hook(span, server_address, retry_after_seconds_or_None): runs for each 429,
# with the caller's current span (the request's own span has already ended).
RateLimitHook = Callable[[Span, str, "float | None"], None]
