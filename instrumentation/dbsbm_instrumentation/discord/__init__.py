"""
Traces and measures a `discord.py <https://discordpy.readthedocs.io>`_ bot's slash
commands, prefix commands and event listeners, and reports gateway health.

Each handled command or listener is one span, current while it runs, so database,
cache and HTTP spans made inside it become its children:

* ``slash``: ``app_commands.CommandTree._call``, SERVER, ``slash <qualified name>``
  (``slash bet place``); autocomplete interactions are not traced (one per keystroke);
* ``prefix``: ``commands.Bot.invoke``, SERVER, ``prefix <qualified name>``;
* ``event``: ``Client._run_event`` (every listener, cog listeners included), CONSUMER,
  ``event <handler name>`` (``event on_message``).

A command is a request from a user waiting for an answer, so its span is SERVER, as
contrib makes inbound HTTP requests. A gateway event is a pushed message no one waits
on, so a listener's span is CONSUMER. A prefix command run from ``on_message`` is
therefore a SERVER child of the ``event on_message`` span, in the same trace.

discord.py hands command errors to ``on_command_error`` / ``on_app_command_error``
instead of raising them; ``Command.dispatch_error`` and
``app_commands.Command._invoke_error_handlers`` are wrapped so the error still sets the
span's ERROR status and ``error.type`` (the original exception's class, unwrapped from
``CommandInvokeError``) and counts in ``dbsbm.discord.command.errors``.

Metrics: ``dbsbm.discord.command.duration`` (s) and ``dbsbm.discord.command.errors`` by
``dbsbm.discord.command.name`` (a command's qualified name: finite, never user input) and
``dbsbm.discord.command.type``, for commands only, so their ratio is the command error
ratio (a prefix command also runs ``on_message``, which must not count as a second
command); ``dbsbm.discord.command.active``, commands started and not finished by
``dbsbm.discord.command.type`` (a command stuck on a hung dependency never reaches the
duration histogram, so only this counter shows it); ``dbsbm.discord.event.duration`` (s)
and ``dbsbm.discord.event.errors`` by ``dbsbm.discord.event.name`` for listeners;
``dbsbm.discord.interaction.latency`` (s, snowflake creation to dispatch) by command;
observable gauges ``dbsbm.discord.gateway.latency``, ``dbsbm.discord.guilds`` and
``dbsbm.discord.shard.connected`` for every ``discord.Client`` created after
``instrument()`` (held weakly; :meth:`DiscordInstrumentor.instrument_client` adds an
older one). Guild ids go on spans only.

Gateway chatter (``on_socket_raw_receive``, ``on_typing``, ``on_presence_update``, ...)
is not traced. To choose the skipped events set ``OTEL_PYTHON_DISCORD_EXCLUDED_EVENTS``
(comma-separated, ``on_`` optional) or pass ``excluded_events=``; a busy bot that reads
every message may add ``on_message``, which makes prefix commands root spans.

Usage
-----

.. code-block:: python

    import discord
    from discord.ext import commands
    from dbsbm_instrumentation.discord import DiscordInstrumentor

    DiscordInstrumentor().instrument()
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default())

Under ``opentelemetry-instrument`` it is loaded from the ``discord`` entry point;
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=discord`` turns it off. Drive commands without
Discord's servers with :mod:`dbsbm_instrumentation.discord.testing`.

API
---
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable
from contextvars import ContextVar
from timeit import default_timer
from typing import Any

import discord
import discord.app_commands.commands
import discord.app_commands.tree
import discord.client
import discord.ext.commands.bot
import discord.ext.commands.core
from opentelemetry import context, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]  # upstream module opts out of typing
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.metrics import CallbackOptions, Observation, get_meter
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.schemas import Schemas
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from dbsbm_instrumentation import semconv
from dbsbm_instrumentation._hooks import run_hook, unwrap_targets, wrap_targets
from dbsbm_instrumentation.discord.custom_types import RequestHook
from dbsbm_instrumentation.discord.package import _instruments
from dbsbm_instrumentation.discord.util import (
    DURATION_BUCKETS,
    EVENT,
    LATENCY_BUCKETS,
    PREFIX,
    SLASH,
    excluded_events,
    snowflake_age,
)
from dbsbm_instrumentation.version import __version__
from dbsbm_resilience.errors import classify

__all__ = ["DiscordInstrumentor"]

# (module, "Class.method") pairs wrapped by instrument() and unwrapped by uninstrument().
_TARGETS = (
    ("discord.app_commands.tree", "CommandTree._call"),
    ("discord.app_commands.commands", "Command._invoke_error_handlers"),
    ("discord.ext.commands.bot", "BotBase.invoke"),
    ("discord.ext.commands.core", "Command.dispatch_error"),
    ("discord.client", "Client._run_event"),
    ("discord.client", "Client.__init__"),
)

UNKNOWN_COMMAND = "unknown"


class _Invocation:
    """The command being handled in this task, so error wrappers can mark it failed."""

    __slots__ = ("error_type", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.error_type: str | None = None

    def fail(self, exc: BaseException) -> None:
        original = getattr(exc, "original", None)  # CommandInvokeError wraps the real one
        info = classify(original if isinstance(original, BaseException) else exc)
        self.error_type = info.type
        if self.span.is_recording():
            self.span.set_attributes({ERROR_TYPE: info.type, semconv.ERROR_CODE: info.code})
            self.span.set_status(Status(StatusCode.ERROR, info.type))


_current: ContextVar[_Invocation | None] = ContextVar("dbsbm_discord_invocation", default=None)


def _slash_name(interaction: discord.Interaction) -> str:
    command = interaction.command  # the tree's lookup, cached on the interaction
    return command.qualified_name if command is not None else UNKNOWN_COMMAND


class DiscordInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # BaseInstrumentor is untyped upstream
    """Spans and metrics for discord.py commands, listeners and gateway state."""

    def __init__(self) -> None:
        super().__init__()
        self._clients: weakref.WeakSet[discord.Client] = weakref.WeakSet()

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        """Wrap discord.py's dispatch seams.

        Keyword arguments: ``tracer_provider``, ``meter_provider``, ``request_hook``
        (:data:`~dbsbm_instrumentation.discord.custom_types.RequestHook`),
        ``excluded_events`` (iterable of event names).
        """
        schema_url = Schemas.V1_44_0.value
        self._tracer = trace.get_tracer(
            __name__, __version__, kwargs.get("tracer_provider"), schema_url=schema_url
        )
        meter = get_meter(__name__, __version__, kwargs.get("meter_provider"), schema_url)
        self._request_hook: RequestHook | None = kwargs.get("request_hook")
        self._excluded = excluded_events(kwargs.get("excluded_events"))
        self._duration = meter.create_histogram(
            semconv.DISCORD_COMMAND_DURATION.name,
            unit=semconv.DISCORD_COMMAND_DURATION.unit,
            description=semconv.DISCORD_COMMAND_DURATION.description,
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._errors = meter.create_counter(
            semconv.DISCORD_COMMAND_ERRORS.name,
            unit=semconv.DISCORD_COMMAND_ERRORS.unit,
            description=semconv.DISCORD_COMMAND_ERRORS.description,
        )
        self._active = meter.create_up_down_counter(
            semconv.DISCORD_COMMAND_ACTIVE.name,
            unit=semconv.DISCORD_COMMAND_ACTIVE.unit,
            description=semconv.DISCORD_COMMAND_ACTIVE.description,
        )
        self._event_duration = meter.create_histogram(
            semconv.DISCORD_EVENT_DURATION.name,
            unit=semconv.DISCORD_EVENT_DURATION.unit,
            description=semconv.DISCORD_EVENT_DURATION.description,
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._event_errors = meter.create_counter(
            semconv.DISCORD_EVENT_ERRORS.name,
            unit=semconv.DISCORD_EVENT_ERRORS.unit,
            description=semconv.DISCORD_EVENT_ERRORS.description,
        )
        self._interaction_latency = meter.create_histogram(
            semconv.DISCORD_INTERACTION_LATENCY.name,
            unit=semconv.DISCORD_INTERACTION_LATENCY.unit,
            description=semconv.DISCORD_INTERACTION_LATENCY.description,
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )
        for instrument, callback in (
            (semconv.DISCORD_GATEWAY_LATENCY, self._observe_latency),
            (semconv.DISCORD_GUILDS, self._observe_guilds),
            (semconv.DISCORD_SHARD_CONNECTED, self._observe_shards),
        ):
            meter.create_observable_gauge(
                instrument.name,
                callbacks=[callback],
                unit=instrument.unit,
                description=instrument.description,
            )
        wrappers: dict[str, Callable[..., Any]] = {
            "CommandTree._call": self._traced_slash,
            "Command._invoke_error_handlers": self._record_error,
            "BotBase.invoke": self._traced_prefix,
            "Command.dispatch_error": self._record_error,
            "Client._run_event": self._traced_event,
            "Client.__init__": self._register_client,
        }
        wrap_targets(_TARGETS, wrappers)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap_targets(_TARGETS)
        # Gauges cannot be removed from a meter; with no clients they report nothing.
        self._clients.clear()

    def instrument_client(self, client: discord.Client) -> None:
        """Report the gateway gauges of a client created before :meth:`instrument`."""
        self._clients.add(client)

    # --- commands and listeners ----------------------------------------------------------

    async def _run(
        self,
        call: Callable[[], Awaitable[Any]],
        kind: SpanKind,
        command_type: str,
        initial_name: str,
        final_name: Callable[[], str],
        source: Any,
        guild_id: int | None,
    ) -> Any:
        """Run ``call`` inside a span; name it and record metrics once the name is known."""
        start = default_timer()
        span_attributes: dict[str, Any] = {semconv.DISCORD_COMMAND_TYPE: command_type}
        if guild_id is not None:
            span_attributes[semconv.DISCORD_GUILD_ID] = str(guild_id)
        span = self._tracer.start_span(
            f"{command_type} {initial_name}", kind=kind, attributes=span_attributes
        )
        invocation = _Invocation(span)
        # By type only: a slash command's name is final only once it has run.
        active = None if command_type == EVENT else {semconv.DISCORD_COMMAND_TYPE: command_type}
        if active is not None:
            self._active.add(1, active)
        token = _current.set(invocation)
        # attach/detach rather than use_span(): cheaper on a path every event takes.
        context_token = context.attach(trace.set_span_in_context(span))
        try:
            if source is not None and self._request_hook is not None:
                run_hook(self._request_hook, span, source)
            return await call()
        except Exception as exc:
            invocation.fail(exc)
            raise
        finally:
            name = final_name()
            if span.is_recording():
                span.set_attribute(semconv.DISCORD_COMMAND_NAME, name)
                if name != initial_name:
                    span.update_name(f"{command_type} {name}")
            if command_type == EVENT:
                attributes = {semconv.DISCORD_EVENT_NAME: name}
                duration, errors = self._event_duration, self._event_errors
            else:
                attributes = {
                    semconv.DISCORD_COMMAND_NAME: name,
                    semconv.DISCORD_COMMAND_TYPE: command_type,
                }
                duration, errors = self._duration, self._errors
            if invocation.error_type is not None:
                attributes[ERROR_TYPE] = invocation.error_type
                errors.add(1, attributes)
            duration.record(max(default_timer() - start, 0.0), attributes)
            if active is not None:
                self._active.add(-1, active)
            context.detach(context_token)
            _current.reset(token)
            span.end()

    async def _traced_slash(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        interaction = args[0] if args else kwargs["interaction"]
        if (
            interaction.type is not discord.InteractionType.application_command
            or not is_instrumentation_enabled()
        ):
            return await wrapped(*args, **kwargs)
        latency = snowflake_age(interaction.id)
        try:
            return await self._run(
                lambda: wrapped(*args, **kwargs),
                SpanKind.SERVER,
                SLASH,
                interaction.data.get("name", UNKNOWN_COMMAND),
                lambda: _slash_name(interaction),
                interaction,
                interaction.guild_id,
            )
        finally:
            self._interaction_latency.record(
                latency, {semconv.DISCORD_COMMAND_NAME: _slash_name(interaction)}
            )

    async def _traced_prefix(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        ctx = args[0] if args else kwargs["ctx"]
        # No command means "not found": its name would be user input, so it gets no span.
        if ctx.command is None or not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        guild = ctx.guild
        return await self._run(
            lambda: wrapped(*args, **kwargs),
            SpanKind.SERVER,
            PREFIX,
            ctx.command.qualified_name,
            # a group's subcommand is resolved during invoke and then set as ctx.command
            lambda: ctx.command.qualified_name if ctx.command else UNKNOWN_COMMAND,
            ctx,
            guild.id if guild is not None else None,
        )

    async def _traced_event(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        coro, event_name, *rest = args
        if event_name in self._excluded or not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)

        # _run_event swallows the listener's exception into on_error: trace the listener
        # itself, so the span sees the exception and on_error's own time stays outside.
        async def traced(*a: Any, **kw: Any) -> Any:
            return await self._run(
                lambda: coro(*a, **kw),
                SpanKind.CONSUMER,
                EVENT,
                event_name,
                lambda: event_name,
                None,
                None,
            )

        return await wrapped(traced, event_name, *rest, **kwargs)

    async def _record_error(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        invocation = _current.get()
        if invocation is not None and len(args) >= 2:
            invocation.fail(args[1])
        return await wrapped(*args, **kwargs)

    # --- gateway gauges --------------------------------------------------------------------

    def _register_client(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> None:
        wrapped(*args, **kwargs)
        self._clients.add(instance)

    def _shards(self) -> Iterable[tuple[int, float, bool]]:
        """``(shard id, latency s, connected)`` for every live client's shards."""
        for client in list(self._clients):
            if isinstance(client, discord.AutoShardedClient):
                for shard_id, shard in client.shards.items():
                    yield shard_id, shard.latency, not shard.is_closed()
            else:
                ws = client.ws
                connected = ws is not None and ws.open and not client.is_closed()
                yield client.shard_id or 0, client.latency, connected

    def _observe_latency(self, options: CallbackOptions) -> Iterable[Observation]:
        for shard_id, latency, connected in self._shards():
            if connected and math.isfinite(latency):
                yield Observation(latency, {semconv.DISCORD_SHARD_ID: str(shard_id)})

    def _observe_guilds(self, options: CallbackOptions) -> Iterable[Observation]:
        clients = list(self._clients)
        if clients:
            yield Observation(sum(len(client.guilds) for client in clients))

    def _observe_shards(self, options: CallbackOptions) -> Iterable[Observation]:
        for shard_id, _, connected in self._shards():
            yield Observation(int(connected), {semconv.DISCORD_SHARD_ID: str(shard_id)})
