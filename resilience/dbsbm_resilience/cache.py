"""Async two-tier cache, a drop-in for DBSBM's ``EnhancedCacheManager``.

Same calls, prefixes and TTLs as the bot's cache manager (``get(prefix, key)``,
``set(prefix, key, value, ttl=None)``, ``clear_prefix(prefix, pattern=None)`` ... and the
module functions and decorators), without its defects: keys never use ``hash()``, values
are JSON (never pickle), prefixes are cleared with ``SCAN``, the local tier is bounded and
cleared like Redis, and nothing blocks on Redis.

Usage::

    cache = EnhancedCacheManager()            # REDIS_URL or REDIS_HOST/PORT/... from env
    await cache.connect()                     # returns within ~0.5 s even if Redis hangs
    await cache.set("user", "42", {"name": "x"})
    await cache.clear_prefix("database", "db_query")

    @enhanced_cache_query(ttl=60)
    async def fetch_games(self, league_id: int) -> list[dict]: ...

Tiers
-----
Redis is the cache. A **local tier** (a bounded dict, ``local_max_entries``, entries live
at most ``local_max_ttl`` seconds, oldest evicted first) serves only while Redis is
unavailable, i.e. while the Redis circuit breaker is not closed, or always when
``REDIS_DISABLED`` is set. No caller ever sees a Redis error: reads fall back to the local
tier, writes go to it. While Redis is healthy the local tier is empty, so it cannot serve
a value other processes have since changed in Redis.

Failure detection and recovery
------------------------------
redis-py retries once, immediately, and only on connection errors (a pooled connection
the server closed); never on timeouts. Connect and socket timeouts are short (0.25 s by
default), so a dead or hung Redis costs a caller at most about
``connect_timeout + socket_timeout`` once, then nothing: ``failure_threshold`` failed
reads, or a single failed write, open the breaker and every call goes to the local tier
at memory speed. The breaker lets **one** probe through after ``reconnect_min`` seconds;
each failed probe doubles the wait (with jitter, drawn from ``[wait/2, wait]``) up to
``reconnect_max``. **Recovery bound:** once Redis answers again, the first call made more
than ``reconnect_max`` seconds later (30 s by default) probes and succeeds, so Redis is
used again within ``reconnect_max + connect_timeout + socket_timeout``.

Staleness
---------
A write made while Redis is unavailable (``set``, ``mset``, ``delete``, ``expire``,
``clear_prefix``, or a write that failed against Redis) changes the local tier only; Redis
still holds the old value. So every such write is journalled as an **invalidation**: the
exact Redis key, or the ``SCAN`` pattern of a ``clear_prefix`` (past
``max_pending_invalidations`` keys the journal degrades to flushing the keys' whole
prefixes). A failed write also opens the breaker at once, so no later read can reach
Redis before the journal is applied. The half-open probe is the recovery: ``PING``, then
``UNLINK`` every journalled key and every key matching a journalled pattern, repeated
until the journal is empty (writes keep journalling meanwhile), then, with no ``await``
in between, the local tier is cleared and the breaker closes. If any step fails the
journal is kept and the breaker reopens. Reads after recovery therefore find either
nothing (and the caller reloads) or a value written after recovery; the local tier is
never read again until the next outage. The journal lives in this process: if the
process dies during an outage, Redis entries it invalidated live until their TTL.

Telemetry
---------
Redis commands get a CLIENT span (``GET``, ``SET`` ...; ``db.system.name``,
``db.operation.name``, ``server.*``, ``dbsbm.cache.prefix``) and a
``dbsbm.cache.operation.duration`` record. Instrumentation is suppressed inside each
command, so opentelemetry-instrumentation-redis (loaded by ``opentelemetry-instrument``)
does not add a second span. The local tier pays no SDK call: operations are
counted in plain per-process counters reported by the observable counter
``dbsbm.cache.operations`` (operation, tier, result), beside the observable gauges
``dbsbm.cache.fallback.active`` and ``dbsbm.cache.local.entries``; the breaker reports
``dbsbm.circuit_breaker.state``. A sampled SDK span is a large share of a loopback GET
(``benchmarks/bench_cache.py``); ``CacheSettings(spans=False)`` keeps the metrics and
drops the spans.
``tracer_provider``/``meter_provider`` default to the global ones, resolved lazily.

API
---
"""

from __future__ import annotations

import datetime as _dt
import decimal
import fnmatch
import functools
import hashlib
import inspect
import json
import logging
import os
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from time import monotonic, perf_counter
from types import MappingProxyType
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import redis.asyncio as aredis
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation
from opentelemetry.semconv.attributes.db_attributes import DB_OPERATION_NAME, DB_SYSTEM_NAME
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.trace import INVALID_SPAN, SpanKind, Status, StatusCode, TracerProvider
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ResponseError

from dbsbm_resilience import semconv
from dbsbm_resilience._telemetry import shared_per_provider
from dbsbm_resilience.breaker import BREAKER_FAILURE_THRESHOLD, CLOSED, CircuitBreaker
from dbsbm_resilience.errors import ConfigurationException, error_type
from dbsbm_resilience.version import __version__

__all__ = [
    "DEFAULT_TTL",
    "PREFIXES",
    "TTLS",
    "CacheSettings",
    "EnhancedCacheManager",
    "enhanced_cache_api_response",
    "enhanced_cache_clear_prefix",
    "enhanced_cache_delete",
    "enhanced_cache_exists",
    "enhanced_cache_get",
    "enhanced_cache_mget",
    "enhanced_cache_mset",
    "enhanced_cache_query",
    "enhanced_cache_set",
    "get_enhanced_cache_manager",
    "make_key",
]

_log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# DBSBM's prefix map. "api_response" is the default prefix of its
# enhanced_cache_api_response decorator but was missing from its map; it shares "api:"
# (and the api TTL) so clear_prefix("api") also drops cached API responses.
PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        "api": "api:",
        "api_response": "api:",
        "db_query": "db:",
        "database": "db:",
        **{
            name: f"{name}:"
            for name in (
                "user",
                "guild",
                "game",
                "team",
                "league",
                "parlay",
                "img",
                "session",
                "weather",
                "odds",
                "stats",
                "analytics",
            )
        },
    }
)
TTLS: Mapping[str, int] = MappingProxyType(
    {
        "api": 300,
        "api_response": 300,
        "db_query": 600,
        "database": 600,
        "user": 1800,
        "guild": 3600,
        "game": 900,
        "team": 7200,
        "league": 14400,
        "parlay": 300,
        "img": 86400,
        "session": 1800,
        "weather": 1800,
        "odds": 300,
        "stats": 3600,
        "analytics": 7200,
    }
)
DEFAULT_TTL = 300

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _unknown_prefix(prefix: object) -> ConfigurationException:
    return ConfigurationException(
        f"unknown cache prefix {prefix!r}; known prefixes: {', '.join(sorted(PREFIXES))}"
    )


# --- defaults -----------------------------------------------------------------------------
# Redis sits on loopback or the compose network: an answer takes < 1 ms, so a quarter
# second means "down or hung". The worst a caller waits is about connect + socket timeout.
CONNECT_TIMEOUT_SECONDS = 0.25
SOCKET_TIMEOUT_SECONDS = 0.25
# Open-breaker period before probing Redis again: starts here, doubles per failed probe
# (with jitter) up to the max, which is therefore the recovery bound once Redis is back.
RECONNECT_MIN_SECONDS = 1.0
RECONNECT_MAX_SECONDS = 30.0
LOCAL_MAX_ENTRIES = 10_000
LOCAL_MAX_TTL_SECONDS = 60.0  # bounds how stale a local-tier entry can be
MAX_PENDING_INVALIDATIONS = 10_000  # beyond this, whole prefixes are flushed


@dataclass(frozen=True, kw_only=True)
class CacheSettings:
    """Where Redis is and how hard to try; every field bounded and checked on creation.

    :meth:`from_env` reads DBSBM's variables (``REDIS_URL`` wins over ``REDIS_HOST``,
    ``REDIS_PORT``, ``REDIS_USERNAME``, ``REDIS_PASSWORD``, ``REDIS_DB``; and
    ``REDIS_DISABLED``). A URL may carry the query options ``db``, ``client_name`` and,
    with ``rediss://``, ``ssl_cert_reqs`` and ``ssl_ca_certs``; timeouts and retries are
    fields here, never URL options. Errors are one-line :class:`ConfigurationException`
    naming the variable or field; passwords are never echoed.
    """

    url: str | None = None
    host: str = "localhost"
    port: int = 6379
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    db: int = 0
    disabled: bool = False
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS
    socket_timeout: float = SOCKET_TIMEOUT_SECONDS
    failure_threshold: int = BREAKER_FAILURE_THRESHOLD
    reconnect_min: float = RECONNECT_MIN_SECONDS
    reconnect_max: float = RECONNECT_MAX_SECONDS
    local_max_entries: int = LOCAL_MAX_ENTRIES
    local_max_ttl: float = LOCAL_MAX_TTL_SECONDS
    max_pending_invalidations: int = MAX_PENDING_INVALIDATIONS
    ttls: Mapping[str, int] = field(default_factory=dict)  # overrides of TTLS
    default_ttl: int = DEFAULT_TTL
    spans: bool = True  # a span per Redis command (see "Telemetry" in the module doc)

    def __post_init__(self) -> None:
        if self.url is not None:
            _check_url(self.url, "url")
        _check_port(self.port, "port")
        if not isinstance(self.db, int) or self.db < 0:
            raise ConfigurationException(f"db: {self.db!r} is not a database number (>= 0)")
        for name in ("connect_timeout", "socket_timeout"):
            value = getattr(self, name)
            if not 0 < value <= 30:
                raise ConfigurationException(f"{name}: {value!r} s is outside 0-30 s")
        if not 0 < self.reconnect_min <= self.reconnect_max <= 3600:
            raise ConfigurationException(
                f"reconnect_min/reconnect_max: need 0 < {self.reconnect_min!r} <= "
                f"{self.reconnect_max!r} <= 3600 s"
            )
        for name in ("failure_threshold", "local_max_entries", "max_pending_invalidations"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigurationException(f"{name}: {value!r} is not an integer >= 1")
        if not self.local_max_ttl > 0:
            raise ConfigurationException(f"local_max_ttl: {self.local_max_ttl!r} is not > 0 s")
        _check_ttl(self.default_ttl, "default_ttl")
        for prefix, ttl in self.ttls.items():
            if prefix not in PREFIXES:
                raise _unknown_prefix(prefix)
            _check_ttl(ttl, f"ttls[{prefix!r}]")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> CacheSettings:
        """Settings from DBSBM's ``REDIS_*`` variables; keyword ``overrides`` win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        disabled = env.get("REDIS_DISABLED", "").strip().lower()
        if disabled not in _TRUE | _FALSE:
            raise ConfigurationException(
                f"REDIS_DISABLED: {env['REDIS_DISABLED']!r} is not a boolean (true/false)"
            )
        values["disabled"] = disabled in _TRUE
        if env.get("REDIS_URL"):
            values["url"] = _check_url(env["REDIS_URL"], "REDIS_URL")
        else:
            if env.get("REDIS_HOST"):
                values["host"] = env["REDIS_HOST"]
            if env.get("REDIS_PORT"):
                values["port"] = _parse_int(env["REDIS_PORT"], "REDIS_PORT")
                _check_port(values["port"], "REDIS_PORT")
            if env.get("REDIS_DB"):
                values["db"] = _parse_int(env["REDIS_DB"], "REDIS_DB")
                if values["db"] < 0:
                    raise ConfigurationException(f"REDIS_DB: {env['REDIS_DB']!r} is negative")
            values["username"] = env.get("REDIS_USERNAME") or None
            values["password"] = env.get("REDIS_PASSWORD") or None
        known = {f.name for f in fields(cls)}
        for name in overrides:
            if name not in known:
                raise ConfigurationException(f"unknown cache setting {name!r}")
        return cls(**{**values, **overrides})

    def ttl_for(self, prefix: str) -> int:
        return self.ttls.get(prefix) or TTLS.get(prefix, self.default_ttl)


def _parse_int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigurationException(f"{name}: {text!r} is not an integer") from None


def _check_port(port: object, name: str) -> None:
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigurationException(f"{name}: {port!r} is not a port number (1-65535)")


def _check_ttl(ttl: object, name: str) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ConfigurationException(
            f"{name}: TTL {ttl!r} is not a positive whole number of seconds"
        )
    return ttl


def _check_url(url: str, name: str) -> str:
    """Reject what redis-py would choke on later, naming the part (never the password)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as exc:
        raise ConfigurationException(f"{name}: malformed Redis URL ({exc})") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigurationException(
            f"{name}: scheme {parts.scheme + '://' if parts.scheme else '(none)'} is not "
            "redis://, rediss:// or unix://"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigurationException(f"{name}: no host in the Redis URL")
    if parts.scheme == "unix" and not parts.path:
        raise ConfigurationException(f"{name}: no socket path in the unix:// URL")
    if port == 0:
        raise ConfigurationException(f"{name}: port 0 is not a port number (1-65535)")
    path = unquote(parts.path).strip("/")
    if parts.scheme != "unix" and path and not path.isdigit():
        raise ConfigurationException(f"{name}: database {path!r} is not a number")
    for option, value in parse_qsl(parts.query, keep_blank_values=True):
        check = _URL_OPTIONS.get(option)
        if check is None:
            raise ConfigurationException(
                f"{name}: query option {option!r} is not accepted (accepted: "
                f"{', '.join(sorted(_URL_OPTIONS))}; timeouts are CacheSettings fields)"
            )
        if option.startswith("ssl_") and parts.scheme != "rediss":
            raise ConfigurationException(f"{name}: query option {option!r} needs rediss://")
        if not check(value):
            raise ConfigurationException(f"{name}: query option {option}={value!r} is not valid")
    return url


# The query options a Redis URL may carry, each with its value check. redis-py lets URL
# options override the client's arguments, so ?socket_timeout=30 or ?retry_on_timeout
# would silently undo the short timeouts and single retry of _make_client; those, and
# options redis-py would only reject at the first connection, are refused up front.
_URL_OPTIONS: Mapping[str, Callable[[str], bool]] = MappingProxyType(
    {
        "db": str.isdigit,
        "client_name": bool,
        "ssl_cert_reqs": {"none", "optional", "required"}.__contains__,
        "ssl_ca_certs": bool,
    }
)


# --- values and keys ----------------------------------------------------------------------
# JSON with tags for the types DB rows carry (aiomysql's DictCursor returns datetime and
# Decimal), so a cached row reads back as the same types; tuples read back as lists. A
# tag is a single-key dict like {"$dt": "..."}; user dicts of that shape are escaped.


def _encode(obj: Any) -> Any:
    if isinstance(obj, _dt.datetime):
        return {"$dt": obj.isoformat()}
    if isinstance(obj, _dt.date):
        return {"$date": obj.isoformat()}
    if isinstance(obj, _dt.time):
        return {"$time": obj.isoformat()}
    if isinstance(obj, _dt.timedelta):
        return {"$td": obj.total_seconds()}
    if isinstance(obj, decimal.Decimal):
        return {"$dec": str(obj)}
    if isinstance(obj, uuid.UUID):
        return {"$uuid": str(obj)}
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if isinstance(obj, Enum):
        return _escape(obj.value)
    raise TypeError(f"{type(obj).__qualname__} is not JSON serializable")


def _escape(obj: Any) -> Any:
    """``obj`` with every dict that would read back as a tag (a single key starting
    with "$") stored as ``{"$dict": [key, value]}``, so values round-trip exactly.

    A pair, not the dict itself: the decoder converts inner dicts before outer ones.
    """
    if isinstance(obj, dict):
        escaped = {k: _escape(v) for k, v in obj.items()}
        if len(escaped) == 1:
            ((key, value),) = escaped.items()
            if isinstance(key, str) and key.startswith("$"):
                return {"$dict": [key, value]}
        return escaped
    if isinstance(obj, (list, tuple)):
        return [_escape(v) for v in obj]
    return obj


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$dt": _dt.datetime.fromisoformat,
    "$date": _dt.date.fromisoformat,
    "$time": _dt.time.fromisoformat,
    "$td": lambda s: _dt.timedelta(seconds=s),
    "$dec": decimal.Decimal,
    "$uuid": uuid.UUID,
    "$dict": lambda kv: {kv[0]: kv[1]},
}


def _decode_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((tag, value),) = obj.items()
        decoder = _DECODERS.get(tag)
        if decoder is not None:
            return decoder(value)
    return obj


_encode_json = json.JSONEncoder(default=_encode, separators=(",", ":"), ensure_ascii=False).encode
_decode = json.JSONDecoder(object_hook=_decode_hook).decode


def _dumps(value: Any) -> str:
    """Encode a value to store; TypeError or ValueError when JSON cannot hold it."""
    return _encode_json(_escape(value))


def _loads(raw: bytes | str) -> Any:
    """Decode a stored value; raises (ValueError, or whatever a tag's decoder raises) for
    bytes we did not write, e.g. the old manager's pickles or another writer's tags."""
    return _decode(raw.decode() if isinstance(raw, bytes) else raw)


_canonical = json.JSONEncoder(
    default=_encode, separators=(",", ":"), sort_keys=True, ensure_ascii=False
).encode


def make_key(namespace: str, *args: Any, **kwargs: Any) -> str:
    """A cache key for a call, equal in every process (sha256 of canonical JSON).

    Raises ``TypeError`` for arguments without a stable JSON form (the decorators then
    call through uncached rather than guess with ``repr``, which embeds addresses).
    """
    digest = hashlib.sha256(_canonical([args, kwargs]).encode()).hexdigest()[:32]
    return f"{namespace}:{digest}"


# --- telemetry ------------------------------------------------------------------------------
# Operation counts are plain list slots bumped in the hot path and reported through an
# observable counter: a local-tier hit costs a list increment, not an SDK call.

_OPS = ("get", "set", "mget", "mset", "delete", "exists", "expire", "clear_prefix", "ping")
_TIERS = ("redis", "local")
_RESULTS = ("hit", "miss", "ok", "error")
_SLOTS = [(o, t, r) for o in _OPS for t in _TIERS for r in _RESULTS]
_SLOT = {key: i for i, key in enumerate(_SLOTS)}
_LOCAL_GET_HIT = _SLOT["get", "local", "hit"]
_LOCAL_GET_MISS = _SLOT["get", "local", "miss"]
_REDIS_GET_HIT = _SLOT["get", "redis", "hit"]
_REDIS_GET_MISS = _SLOT["get", "redis", "miss"]
_SLOT_ATTRS = [
    {semconv.CACHE_OPERATION: o, semconv.CACHE_TIER: t, semconv.CACHE_RESULT: r}
    for o, t, r in _SLOTS
]
# The cache hit ratio reads these, so they are reported from the first collection on,
# at 0 if need be: Prometheus sees no increase in a series that first appears at its
# first count, so the local tier's first lookups in an outage would be lost to rate().
_ALWAYS_REPORTED = frozenset({_LOCAL_GET_HIT, _LOCAL_GET_MISS, _REDIS_GET_HIT, _REDIS_GET_MISS})
_COMMANDS = {
    "get": "GET",
    "set": "SET",
    "mget": "MGET",
    "mset": "PIPELINE",
    "delete": "UNLINK",
    "exists": "EXISTS",
    "expire": "EXPIRE",
    "clear_prefix": "SCAN",
    "ping": "PING",
}


class _CacheTelemetry:
    def __init__(self, meter: Meter) -> None:
        self.caches: weakref.WeakSet[EnhancedCacheManager] = weakref.WeakSet()
        i = semconv.CACHE_OPERATIONS
        meter.create_observable_counter(i.name, [self._observe_operations], i.unit, i.description)
        i = semconv.CACHE_OPERATION_DURATION
        self.duration = meter.create_histogram(i.name, i.unit, i.description)
        i = semconv.CACHE_FALLBACK_ACTIVE
        meter.create_observable_gauge(i.name, [self._observe_fallback], i.unit, i.description)
        i = semconv.CACHE_LOCAL_ENTRIES
        meter.create_observable_gauge(i.name, [self._observe_entries], i.unit, i.description)

    def _live(self) -> list[EnhancedCacheManager]:
        return list(self.caches)

    def _observe_operations(self, options: CallbackOptions) -> Iterable[Observation]:
        totals = [0] * len(_SLOTS)
        for cache in self._live():
            for i, n in enumerate(cache._counts):
                totals[i] += n
        return [
            Observation(n, _SLOT_ATTRS[i])
            for i, n in enumerate(totals)
            if n or i in _ALWAYS_REPORTED
        ]

    def _observe_fallback(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(max((int(c.fallback_active) for c in self._live()), default=0))]

    def _observe_entries(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(sum(len(c._local) for c in self._live()))]


# --- the manager ------------------------------------------------------------------------------


class EnhancedCacheManager:
    """DBSBM's cache manager API over Redis with a local fallback tier (see module doc)."""

    def __init__(
        self,
        settings: CacheSettings | None = None,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.settings = s = settings if settings is not None else CacheSettings.from_env()
        self._prefixes = PREFIXES
        self._local: dict[str, tuple[float, Any]] = {}
        self._local_max = s.local_max_entries
        self._local_ttl = s.local_max_ttl
        self._pending_keys: set[str] = set()
        self._pending_patterns: set[str] = set()
        self._counts = [0] * len(_SLOTS)
        self.evictions = 0
        self._breaker = CircuitBreaker(
            "cache.redis",
            failure_threshold=s.failure_threshold,
            reset_timeout=s.reconnect_min,
            backoff_max=s.reconnect_max,
            excluded=(ResponseError, DataError),
            meter_provider=meter_provider,
        )
        self._breaker.add_listener(self._on_breaker_change)
        self._tracer = trace.get_tracer("dbsbm_resilience.cache", __version__, tracer_provider)
        self._telemetry = shared_per_provider("cache", meter_provider, _CacheTelemetry)
        self._telemetry.caches.add(self)
        self._client: aredis.Redis | None = None if s.disabled else self._make_client()
        self._spans = s.spans
        self._span_attrs: dict[tuple[str, str], dict[str, Any]] = {}
        self._duration_attrs = {op: {semconv.CACHE_OPERATION: op} for op in _OPS}

    def _make_client(self) -> aredis.Redis:
        s = self.settings
        # redis-py's default retries 10 times with backoff and waits 5 s per socket
        # operation; a dead Redis would stall every caller for seconds. One immediate
        # retry on connection errors (a pooled connection the server closed) is enough.
        options: dict[str, Any] = {
            "socket_connect_timeout": s.connect_timeout,
            "socket_timeout": s.socket_timeout,
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            "health_check_interval": 0,
        }
        if s.url:
            client = aredis.Redis.from_url(s.url, **options)
            kwargs = client.connection_pool.connection_kwargs
            self._server = (str(kwargs.get("host", kwargs.get("path", ""))), kwargs.get("port"))
            return client
        self._server = (s.host, s.port)
        return aredis.Redis(
            host=s.host, port=s.port, db=s.db, username=s.username, password=s.password, **options
        )

    # -- state -------------------------------------------------------------------------------

    @property
    def fallback_active(self) -> bool:
        """True while Redis is configured but the local tier serves (breaker not closed)."""
        return self._client is not None and not self._breaker.closed

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    def _on_breaker_change(self, breaker: CircuitBreaker, old: str, new: str) -> None:
        if new == CLOSED:
            _log.warning("Redis is back: cache uses it again")
        elif old == CLOSED:
            _log.warning(
                "Redis unavailable: cache serves from its local tier (probing again in %.1f s)",
                breaker.retry_in,
            )

    def _key(self, prefix: str, key: object) -> str:
        try:
            return self._prefixes[prefix] + key  # type: ignore[operator]  # non-str keys: except TypeError
        except KeyError:
            raise _unknown_prefix(prefix) from None
        except TypeError:
            return self._prefixes[prefix] + str(key)

    def _ttl(self, prefix: str, ttl: int | None) -> int:
        if ttl is None:
            return self.settings.ttl_for(prefix)
        return _check_ttl(ttl, "ttl")

    async def _redis_client(self) -> aredis.Redis | None:
        """The client if Redis may be used now, else None.

        Closed breaker: yes. Open and due: the one caller that wins the probe recovers.
        """
        client = self._client
        if client is None:
            return None
        if self._breaker.closed:
            return client
        if self._breaker.try_probe() and await self._recover():
            return client
        return None

    # -- the Redis tier ------------------------------------------------------------------------

    async def _redis(
        self, op: str, prefix: str, command: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any
    ) -> R:
        """Run one Redis command with a span and a duration; errors propagate."""
        attrs = self._span_attrs.get((op, prefix))
        if attrs is None:
            attrs = self._span_attrs[op, prefix] = {
                DB_SYSTEM_NAME: "redis",
                DB_OPERATION_NAME: _COMMANDS[op],
                SERVER_ADDRESS: self._server[0],
                semconv.CACHE_PREFIX: prefix,
            }
            if self._server[1] is not None:
                attrs[SERVER_PORT] = self._server[1]
        span = (
            self._tracer.start_span(_COMMANDS[op], kind=SpanKind.CLIENT, attributes=attrs)
            if self._spans
            else INVALID_SPAN
        )
        start = perf_counter()
        # ours is the command's span: opentelemetry-instrumentation-redis, which
        # opentelemetry-instrument loads, would add a second one (it honours this key)
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            result = await command(*args, **kwargs)
        except BaseException as exc:
            self._telemetry.duration.record(perf_counter() - start, self._duration_attrs[op])
            if span.is_recording():
                span.set_attribute(ERROR_TYPE, error_type(exc))
                span.set_status(Status(StatusCode.ERROR, str(exc)[:256]))
            span.end()
            raise
        finally:
            detach(token)
        self._telemetry.duration.record(perf_counter() - start, self._duration_attrs[op])
        span.end()
        # only a closed breaker: a half-open one is closed by _recover, journal applied
        if self._breaker.failures and self._breaker.closed:
            self._breaker.record_success()
        return result

    def _read_failed(self, op: str, exc: BaseException) -> None:
        self._counts[_SLOT[op, "redis", "error"]] += 1
        _log.debug("Redis %s failed: %s", op, error_type(exc))
        if self._breaker.closed:  # else a late reply must not settle a probe's outcome
            self._breaker.record_failure(exc)

    def _write_failed(
        self, op: str, exc: BaseException, keys: Iterable[str] = (), pattern: str | None = None
    ) -> None:
        """The write may or may not have landed: invalidate later, and stop reading now."""
        self._counts[_SLOT[op, "redis", "error"]] += 1
        _log.debug("Redis %s failed: %s", op, error_type(exc))
        self._journal(keys, pattern)
        self._breaker.trip()

    def _journal(self, keys: Iterable[str] = (), pattern: str | None = None) -> None:
        if self._client is None:
            return
        if pattern is not None:
            self._pending_patterns.add(pattern)
        self._pending_keys.update(keys)
        if len(self._pending_keys) > self.settings.max_pending_invalidations:
            # too many to list: flush the prefixes they belong to instead
            self._pending_patterns.update(k.split(":", 1)[0] + ":*" for k in self._pending_keys)
            self._pending_keys.clear()

    async def _recover(self) -> bool:
        """The half-open probe: PING, apply the invalidation journal, then close."""
        client = self._client
        assert client is not None
        keys: set[str] = set()
        patterns: set[str] = set()
        try:
            await self._redis("ping", "", client.ping)
            while self._pending_keys or self._pending_patterns:
                keys, self._pending_keys = self._pending_keys, set()
                patterns, self._pending_patterns = self._pending_patterns, set()
                batch = list(keys)
                for i in range(0, len(batch), 500):
                    await self._redis("delete", "", client.unlink, *batch[i : i + 500])
                for pattern in list(patterns):
                    await self._scan_unlink(pattern, "")
                    patterns.discard(pattern)
                keys = set()
        except Exception as exc:  # callers never see a Redis error
            self._pending_keys |= keys
            self._pending_patterns |= patterns
            _log.debug("Redis probe failed: %s", error_type(exc))
            # without exc: the breaker counts a refused command (ResponseError: ACL, a
            # missing database) as an answer and would close with the journal unapplied
            self._breaker.record_failure()
            return False
        except BaseException:
            self._pending_keys |= keys
            self._pending_patterns |= patterns
            self._breaker.release_probe()
            raise
        # no await from the journal's last check to here: nothing can slip in between
        self._local.clear()
        self._breaker.record_success()
        return True

    async def _scan_unlink(self, pattern: str, prefix: str) -> int:
        client = self._client
        assert client is not None
        removed = 0
        cursor = 0
        while True:
            cursor, keys = await self._redis(
                "clear_prefix", prefix, client.scan, cursor, match=pattern, count=1000
            )
            if keys:
                removed += await self._redis("delete", prefix, client.unlink, *keys)
            if cursor == 0:
                return removed

    # -- the local tier --------------------------------------------------------------------------

    def _local_get(self, rkey: str) -> Any:
        entry = self._local.get(rkey)
        if entry is not None:
            if entry[0] > monotonic():
                self._counts[_LOCAL_GET_HIT] += 1
                return entry[1]
            del self._local[rkey]
        self._counts[_LOCAL_GET_MISS] += 1
        return None

    def _local_set(self, rkey: str, value: Any, ttl: float) -> None:
        local = self._local
        if local.pop(rkey, None) is None and len(local) >= self._local_max:
            del local[next(iter(local))]  # oldest first: all share local_max_ttl
            self.evictions += 1
        local[rkey] = (monotonic() + min(ttl, self._local_ttl), value)

    def _local_clear(self, prefix_value: str, glob: str | None) -> int:
        if glob is None:
            doomed = [k for k in self._local if k.startswith(prefix_value)]
        else:
            doomed = [k for k in self._local if fnmatch.fnmatchcase(k, glob)]
        for k in doomed:
            del self._local[k]
        return len(doomed)

    # -- DBSBM's API ---------------------------------------------------------------------------

    async def connect(self) -> bool:
        """Check Redis once, bounded by the short timeouts; never raises, never blocks.

        False means the cache runs on its local tier (Redis disabled or unreachable) and
        will probe Redis again on later calls.
        """
        if self._client is None:
            _log.info("Redis disabled (REDIS_DISABLED): cache runs on its local tier")
            return False
        if not self._breaker.closed:
            # mid-outage: only the recovery probe may re-enable Redis (it applies the
            # invalidation journal first); resetting the breaker here would skip that
            return await self._redis_client() is not None
        try:
            await self._redis("ping", "", self._client.ping)
        except Exception as exc:  # callers never see a Redis error
            _log.warning(
                "Redis unreachable (%s): cache serves from its local tier", error_type(exc)
            )
            self._breaker.trip()
            return False
        return True

    async def disconnect(self) -> None:
        """Close Redis connections; later calls reconnect on demand."""
        if self._client is not None:
            try:
                await self._client.aclose()
            except Exception as exc:  # closing a dead connection may fail
                _log.debug("closing Redis failed: %s", error_type(exc))

    async def get(self, prefix: str, key: str) -> Any:
        """The cached value, or None on a miss (Redis errors are misses)."""
        rkey = self._key(prefix, key)
        b = self._breaker
        if self._client is not None and (
            b.closed or (b.probe_due() and await self._redis_client() is not None)
        ):
            try:
                raw = await self._redis("get", prefix, self._client.get, rkey)
            except Exception as exc:  # callers never see a Redis error
                self._read_failed("get", exc)
                return self._local_get(rkey)
            if raw is None:
                self._counts[_REDIS_GET_MISS] += 1
                return None
            try:
                value = _loads(raw)
            except Exception:  # not ours (e.g. the old manager's pickles): a miss
                self._counts[_SLOT["get", "redis", "error"]] += 1
                return None
            self._counts[_REDIS_GET_HIT] += 1
            return value
        return self._local_get(rkey)

    async def set(self, prefix: str, key: str, value: Any, ttl: int | None = None) -> bool:
        """Cache ``value`` (JSON-serialisable); False only when it cannot be serialised."""
        rkey = self._key(prefix, key)
        ttl = self._ttl(prefix, ttl)
        try:
            payload = _dumps(value)
        except (TypeError, ValueError) as exc:
            _log.warning("cache set %s: value not cacheable (%s)", prefix, exc)
            self._counts[_SLOT["set", "local", "error"]] += 1
            return False
        if (client := await self._redis_client()) is not None:
            try:
                await self._redis("set", prefix, client.set, rkey, payload, ex=ttl)
            except Exception as exc:  # callers never see a Redis error
                self._write_failed("set", exc, keys=(rkey,))
            else:
                self._counts[_SLOT["set", "redis", "ok"]] += 1
                return True
        else:
            self._journal((rkey,))
        self._local_set(rkey, _loads(payload), ttl)
        self._counts[_SLOT["set", "local", "ok"]] += 1
        return True

    async def mget(self, prefix: str, keys: Iterable[str]) -> dict[str, Any]:
        """Found values by key; missing keys are absent from the result."""
        keys = list(keys)
        rkeys = [self._key(prefix, k) for k in keys]
        if not keys:
            return {}
        if (client := await self._redis_client()) is not None:
            try:
                raws = await self._redis("mget", prefix, client.mget, rkeys)
            except Exception as exc:  # callers never see a Redis error
                self._read_failed("mget", exc)
            else:
                found = {}
                for key, raw in zip(keys, raws, strict=True):
                    if raw is not None:
                        try:
                            found[key] = _loads(raw)
                        except Exception:  # not ours: a miss, as in get
                            self._counts[_SLOT["mget", "redis", "error"]] += 1
                self._counts[_SLOT["mget", "redis", "hit" if found else "miss"]] += 1
                return found
        found = {}
        for key, rkey in zip(keys, rkeys, strict=True):
            value = self._local_get(rkey)
            if value is not None:
                found[key] = value
        return found

    async def mset(self, prefix: str, data: Mapping[str, Any], ttl: int | None = None) -> bool:
        """Cache every item of ``data`` with one pipeline; False if any is not JSON."""
        ttl = self._ttl(prefix, ttl)
        try:
            payloads = {self._key(prefix, k): _dumps(v) for k, v in data.items()}
        except (TypeError, ValueError) as exc:
            _log.warning("cache mset %s: value not cacheable (%s)", prefix, exc)
            self._counts[_SLOT["mset", "local", "error"]] += 1
            return False
        if not payloads:
            return True
        if (client := await self._redis_client()) is not None:

            async def pipeline() -> None:
                async with client.pipeline(transaction=False) as pipe:
                    for rkey, payload in payloads.items():
                        pipe.set(rkey, payload, ex=ttl)
                    await pipe.execute()

            try:
                await self._redis("mset", prefix, pipeline)
            except Exception as exc:  # callers never see a Redis error
                self._write_failed("mset", exc, keys=payloads)
            else:
                self._counts[_SLOT["mset", "redis", "ok"]] += 1
                return True
        else:
            self._journal(payloads)
        for rkey, payload in payloads.items():
            self._local_set(rkey, _loads(payload), ttl)
        self._counts[_SLOT["mset", "local", "ok"]] += 1
        return True

    async def delete(self, prefix: str, key: str) -> bool:
        """Remove ``key`` from both tiers; during an outage, from Redis on recovery."""
        rkey = self._key(prefix, key)
        local_hit = self._local.pop(rkey, None) is not None
        if (client := await self._redis_client()) is not None:
            try:
                n = await self._redis("delete", prefix, client.unlink, rkey)
            except Exception as exc:  # callers never see a Redis error
                self._write_failed("delete", exc, keys=(rkey,))
            else:
                self._counts[_SLOT["delete", "redis", "ok"]] += 1
                return bool(n) or local_hit
        else:
            self._journal((rkey,))
        self._counts[_SLOT["delete", "local", "ok"]] += 1
        return True

    async def exists(self, prefix: str, key: str) -> bool:
        rkey = self._key(prefix, key)
        if (client := await self._redis_client()) is not None:
            try:
                n = await self._redis("exists", prefix, client.exists, rkey)
            except Exception as exc:  # callers never see a Redis error
                self._read_failed("exists", exc)
            else:
                self._counts[_SLOT["exists", "redis", "hit" if n else "miss"]] += 1
                return bool(n)
        entry = self._local.get(rkey)
        found = entry is not None and entry[0] > monotonic()
        self._counts[_SLOT["exists", "local", "hit" if found else "miss"]] += 1
        return found

    async def expire(self, prefix: str, key: str, ttl: int) -> bool:
        """Set a new TTL; during an outage the Redis copy is dropped on recovery instead."""
        rkey = self._key(prefix, key)
        ttl = _check_ttl(ttl, "ttl")
        entry = self._local.get(rkey)
        if entry is not None:
            self._local[rkey] = (monotonic() + min(ttl, self._local_ttl), entry[1])
        if (client := await self._redis_client()) is not None:
            try:
                ok = await self._redis("expire", prefix, client.expire, rkey, ttl)
            except Exception as exc:  # callers never see a Redis error
                self._write_failed("expire", exc, keys=(rkey,))
            else:
                self._counts[_SLOT["expire", "redis", "ok"]] += 1
                return bool(ok)
        else:
            self._journal((rkey,))
        self._counts[_SLOT["expire", "local", "ok"]] += 1
        return entry is not None

    async def clear_prefix(self, prefix: str, pattern: str | None = None) -> int:
        """Drop every key of ``prefix`` (or, with ``pattern``, ``<prefix>*<pattern>*``).

        Returns the number of keys removed (from Redis, or the local tier in an outage).
        """
        prefix_value = self._prefixes.get(prefix)
        if prefix_value is None:
            raise _unknown_prefix(prefix)
        glob = f"{prefix_value}*{pattern}*" if pattern else f"{prefix_value}*"
        local_removed = self._local_clear(prefix_value, glob if pattern else None)
        if await self._redis_client() is not None:
            try:
                removed = await self._scan_unlink(glob, prefix)
            except Exception as exc:  # callers never see a Redis error
                self._write_failed("clear_prefix", exc, pattern=glob)
            else:
                self._counts[_SLOT["clear_prefix", "redis", "ok"]] += 1
                return removed
        else:
            self._journal(pattern=glob)
        self._counts[_SLOT["clear_prefix", "local", "ok"]] += 1
        return local_removed

    async def health_check(self) -> bool:
        """Does Redis answer? True too when Redis is disabled by configuration.

        An open breaker answers False without touching Redis; the cache itself keeps
        serving either way, so this belongs in readiness, not liveness.
        """
        if self._client is None:
            return True
        if await self._redis_client() is None:
            return False
        try:
            await self._redis("ping", "", self._client.ping)
        except Exception as exc:  # callers never see a Redis error
            self._read_failed("ping", exc)
            return False
        self._counts[_SLOT["ping", "redis", "ok"]] += 1
        return True

    def get_stats(self) -> dict[str, Any]:
        """Counters and state, in one dict (DBSBM logs and displays these)."""
        by_slot = {
            f"{o}.{t}.{r}": n for (o, t, r), n in zip(_SLOTS, self._counts, strict=True) if n
        }
        hits = sum(self._counts[_SLOT["get", t, "hit"]] for t in _TIERS)
        misses = sum(self._counts[_SLOT["get", t, "miss"]] for t in _TIERS)
        return {
            "mode": "disabled"
            if self._client is None
            else ("fallback" if self.fallback_active else "redis"),
            "breaker_state": self._breaker.state,
            "hits": hits,
            "misses": misses,
            "hit_rate": hits / (hits + misses) if hits + misses else 0.0,
            "local_entries": len(self._local),
            "local_evictions": self.evictions,
            "pending_invalidations": len(self._pending_keys) + len(self._pending_patterns),
            "operations": by_slot,
        }


# --- module-level API (DBSBM's) ---------------------------------------------------------------

_manager: EnhancedCacheManager | None = None


def get_enhanced_cache_manager() -> EnhancedCacheManager:
    """The process-wide manager, created from the environment on first use (no I/O)."""
    global _manager
    if _manager is None:
        _manager = EnhancedCacheManager()
    return _manager


async def enhanced_cache_get(prefix: str, key: str) -> Any:
    return await get_enhanced_cache_manager().get(prefix, key)


async def enhanced_cache_set(prefix: str, key: str, value: Any, ttl: int | None = None) -> bool:
    return await get_enhanced_cache_manager().set(prefix, key, value, ttl)


async def enhanced_cache_mget(prefix: str, keys: Iterable[str]) -> dict[str, Any]:
    return await get_enhanced_cache_manager().mget(prefix, keys)


async def enhanced_cache_mset(prefix: str, data: Mapping[str, Any], ttl: int | None = None) -> bool:
    return await get_enhanced_cache_manager().mset(prefix, data, ttl)


async def enhanced_cache_delete(prefix: str, key: str) -> bool:
    return await get_enhanced_cache_manager().delete(prefix, key)


async def enhanced_cache_exists(prefix: str, key: str) -> bool:
    return await get_enhanced_cache_manager().exists(prefix, key)


async def enhanced_cache_clear_prefix(prefix: str, pattern: str | None = None) -> int:
    return await get_enhanced_cache_manager().clear_prefix(prefix, pattern)


def _cached(
    prefix: str, ttl: int | None
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    if prefix not in PREFIXES:
        raise _unknown_prefix(prefix)
    if ttl is not None:
        _check_ttl(ttl, "ttl")

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"{func.__qualname__}: the cache decorators wrap async functions")
        params = list(inspect.signature(func).parameters)
        # a method's self/cls would put a per-process address into the key
        skip_first = bool(params) and params[0] in ("self", "cls")
        # the prefix name is in the key so clear_prefix("database", "db_query") finds it
        namespace = f"{prefix}:{func.__module__}.{func.__qualname__}"

        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                key = make_key(namespace, *(args[1:] if skip_first else args), **kwargs)
            except (TypeError, ValueError):
                return await func(*args, **kwargs)  # arguments without a stable key
            manager = get_enhanced_cache_manager()
            cached: R | None = await manager.get(prefix, key)
            if cached is not None:
                return cached
            result = await func(*args, **kwargs)
            if result is not None:
                await manager.set(prefix, key, result, ttl)
            return result

        return wrapper

    return decorate


def enhanced_cache_query(
    prefix: str = "db_query", ttl: int | None = None
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Cache an async query function's non-None results under ``prefix`` (DBSBM's)."""
    return _cached(prefix, ttl)


def enhanced_cache_api_response(
    prefix: str = "api_response", ttl: int | None = None
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Cache an async API call's non-None results (``api_response`` shares ``api:``)."""
    return _cached(prefix, ttl)
