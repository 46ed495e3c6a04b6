"""Hook signatures accepted by :class:`AiomysqlInstrumentor`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.trace import Span

# request_hook(span, cursor, query, args): runs after the span starts, before the query.
RequestHook = Callable[[Span, Any, str, Any], None]
# response_hook(span, cursor, result): runs after the query returned, before the span ends.
ResponseHook = Callable[[Span, Any, Any], None]
