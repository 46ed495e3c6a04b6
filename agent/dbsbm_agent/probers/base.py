"""What every probe kind shares: the prober signature, results, and typed settings.

A probe kind (one module beside this one) declares a :class:`ProbeKind`: its settings
dataclass, whose fields are the YAML keys it accepts, each with the check that
validates it (:func:`setting`); its prober; how its target is shown; its /health
component type; its default interval and timeout; the environment variables that
override its settings; and the extra instruments its prober observes.

As in blackbox_exporter, every prober has one signature, ``async (target, module,
registry, logger) -> ProbeResult``: ``module`` is the probe's :class:`ProbeConfig`,
``registry`` a fresh :class:`Recorder` per run where the prober records its own
``probe_<kind>_*`` observations. The runner (:mod:`dbsbm_agent.scheduler`) owns the
timeout, the duration and ``probe_success``. A prober never raises for a failing
target: it logs the cause with structured fields and returns a ``fail`` result.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import SplitResult, urlsplit

from dbsbm_instrumentation.semconv import Instrument

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# Every probe gives up after this unless its kind or its config says otherwise.
DEFAULT_TIMEOUT_SECONDS = 5.0


class Status(StrEnum):
    """``pass``/``warn``/``fail`` as in draft-inadarei-api-health-check, plus ``skip``."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Observation:
    """One extra reading; with a ``measurement`` it is also its own /health check."""

    instrument: Instrument
    value: float
    attributes: dict[str, str] = field(default_factory=dict)
    measurement: str | None = None
    observed_value: float | None = None
    observed_unit: str = ""
    status: Status | None = None
    output: str = ""


class Recorder:
    """The per-run registry: what a prober observed beyond pass/fail."""

    def __init__(self) -> None:
        self.observations: list[Observation] = []

    def observe(self, observation: Observation) -> None:
        self.observations.append(observation)


@dataclass(frozen=True)
class ProbeResult:
    """One probe run. ``duration`` and ``time`` are filled in by the runner."""

    status: Status
    output: str = ""
    measurement: str = "responseTime"
    observed_value: float | None = None
    observed_unit: str = ""
    duration: float = 0.0
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    observations: tuple[Observation, ...] = ()
    blocked_by: str | None = None  # the failing dependency a skip is due to

    @property
    def ok(self) -> bool:
        """Pass and warn both mean the dependency works (blackbox's probe_success=1)."""
        return self.status in (Status.PASS, Status.WARN)


S = TypeVar("S", bound="DataclassInstance")


@dataclass(frozen=True)
class ProbeConfig(Generic[S]):
    """One probe: blackbox's module and target in one place.

    ``target`` is what the probe reaches (``host:port``, a URL without credentials, a
    disk path); ``settings`` is the kind's own dataclass, whose secrets ``repr`` hides.
    """

    name: str
    kind: str
    target: str
    interval: float
    timeout: float
    settings: S
    depends_on: tuple[str, ...] = ()
    required: bool = False


Prober = Callable[[str, ProbeConfig[Any], Recorder, logging.Logger], Awaitable[ProbeResult]]


class Invalid(Exception):
    """A value a check refused; ``str()`` is "must be ..., got ..." or "contains ...".

    ``key`` names the entry of a mapping that is wrong (a header's name), so the error
    line can point at ``headers.x-api-key`` rather than at the whole mapping.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class InvalidSetting(Exception):
    """A probe setting (or, with ``variable``, an environment variable) that is wrong.

    ``key`` is relative to the probe (``url``, ``headers_from_env.x-api-key``); the
    config loader turns it into one line naming the file or the variable.
    """

    def __init__(self, key: str, message: str, *, variable: bool = False) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
        self.variable = variable


def _no_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    return {}


def _as_is(settings: S, given: Mapping[str, Any], environ: Mapping[str, str]) -> S:
    return settings


@dataclass(frozen=True)
class ProbeKind(Generic[S]):
    """Everything the agent knows about one kind of probe, declared by its module.

    ``env`` reads the bot's own variables as if they were written in the file (they
    win over it) and raises :class:`InvalidSetting` with ``variable=True``. ``finish``
    checks what spans several settings, given the keys the file (or the environment)
    set; it returns the settings the prober uses.
    """

    name: str
    settings: type[S]
    prober: Callable[[str, ProbeConfig[S], Recorder, logging.Logger], Awaitable[ProbeResult]]
    target: Callable[[S], str]
    component_type: str  # /health's componentType: datastore, component or system
    interval: float
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    required: bool = False
    env: Callable[[Mapping[str, str]], dict[str, Any]] = _no_overrides
    finish: Callable[[S, Mapping[str, Any], Mapping[str, str]], S] = _as_is
    instruments: tuple[Instrument, ...] = ()

    def keys(self) -> frozenset[str]:
        """The YAML keys this kind's settings accept."""
        return frozenset(f.name for f in dataclasses.fields(self.settings))

    def decode(self, raw: Mapping[str, Any], environ: Mapping[str, str]) -> S:
        """The settings from a probe's mapping: each key present is checked, the rest
        take their defaults, then ``finish`` checks them together."""
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(self.settings):
            if spec.name in raw:
                try:
                    values[spec.name] = spec.metadata["check"](raw[spec.name])
                except Invalid as exc:
                    key = spec.name if exc.key is None else f"{spec.name}.{exc.key}"
                    raise InvalidSetting(key, str(exc)) from None
            elif (
                spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            ):
                raise InvalidSetting(spec.name, f"required for kind {self.name}")
        return self.finish(self.settings(**values), raw, environ)


T = TypeVar("T")
Check = Callable[[Any], Any]


def setting(default: T, check: Check, *, secret: bool = False) -> T:
    """A settings field: its default, the check a YAML value must pass, and whether
    ``repr`` may show it (tokens, passwords and URLs with API keys may not)."""
    return field(default=default, repr=not secret, metadata={"check": check})


def mapping_setting(check: Check, *, secret: bool = False) -> dict[str, str]:
    """A settings field holding a mapping, empty by default."""
    return field(default_factory=dict, repr=not secret, metadata={"check": check})


def required_setting(check: Check, *, secret: bool = False) -> Any:
    """A settings field with no default: leaving it out is an error."""
    return field(repr=not secret, metadata={"check": check})


# --- checks: each returns the value as the prober wants it, or raises Invalid --------


def describe(value: Any) -> str:
    """A value as it reads in the YAML file (``-1``, ``'abc'``, ``a list``), kept short."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else "-.inf" if value < 0 else ".inf"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return shorten(str(value))
    if isinstance(value, str):
        return shorten(repr(value))
    return f"a {type(value).__name__.replace('dict', 'mapping')}"


def shorten(text: str, limit: int = 80) -> str:
    """At most ``limit`` characters, so one bad value cannot flood the error line."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def positive(value: Any) -> float:
    # The range also rejects .inf, .nan (false in every comparison) and integers too
    # large for float().
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= sys.float_info.max
    ):
        raise Invalid(f"must be a positive number, got {describe(value)}")
    return float(value)


def ratio(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise Invalid(f"must be a ratio between 0 and 1, got {describe(value)}")
    return float(value)


def port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise Invalid(f"must be a port number 1-65535, got {describe(value)}")
    return value


def non_negative_integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"must be an integer >= 0, got {describe(value)}")
    return value


# Unicode's control characters (C0, DEL, C1): none works in a host name, a path (a NUL
# ends it), a URL or a header (CR and LF end one, so a value could add headers), and in
# a log line they forge or hide text. A tab is an ordinary character of a password or a
# header value (RFC 9110 allows it there), so those checks let it through.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# What Python makes of bytes that are not UTF-8 in an environment variable (surrogate
# escapes): no client can encode them, so the variable is refused rather than the probe.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_WHITESPACE = re.compile(r"\s")
# RFC 9110's token: the characters a header name may use.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _code(char: str) -> str:
    """How a refused character is named: never the character itself, which may not print."""
    return f"U+{ord(char):04X}"


def _string(value: Any, control: re.Pattern[str]) -> str:
    if not isinstance(value, str):
        raise Invalid(f"must be a string, got {describe(value)}")
    found = control.search(value)
    if found:
        # Only the character's code: the value may be a secret.
        raise Invalid(f"contains a control character ({_code(found.group())})")
    found = _SURROGATE.search(value)
    if found:
        raise Invalid(f"contains a byte that is not UTF-8 ({_code(found.group())})")
    return value


def string(value: Any) -> str:
    """A string without control characters: every string setting goes through this or
    :func:`string_with_tabs`, so none reaches a socket, a path or a log line with one."""
    return _string(value, _CONTROL)


def string_with_tabs(value: Any) -> str:
    """:func:`string`, tabs allowed: for passwords and header values."""
    return _string(value, _CONTROL_BUT_TAB)


def without_whitespace(value: Any) -> str:
    """A :func:`string` without spaces (host names, URLs), which name resolution would
    refuse and ``urlsplit`` would quietly drop."""
    text = string(value)
    found = _WHITESPACE.search(text)
    if found:
        raise Invalid(f"contains whitespace ({_code(found.group())})")
    return text


def hostname(value: Any) -> str:
    host = without_whitespace(value)
    if not host:
        raise Invalid("must be a host name or address, got ''")
    return host


def split_url(value: Any, schemes: Collection[str], shape: str) -> SplitResult:
    """``value`` split, if it is a URL with one of ``schemes``, a host and a port 1-65535
    when it gives one; else Invalid "must be {shape}". Never shown in the message: a URL
    may carry an API key or a password."""
    text = without_whitespace(value)
    try:
        parts = urlsplit(text)
        # .port raises for a port that is not a number 0-65535
        valid = parts.scheme in schemes and bool(parts.hostname) and parts.port != 0
    except ValueError:  # that, or a '[' without its ']'
        valid = False
    if not valid:
        raise Invalid(f"must be {shape}")
    return parts


def http_url(value: Any) -> str:
    url = string(value)
    split_url(url, ("http", "https"), "an http(s)://HOST[:PORT]/PATH URL")
    return url


def header_name(value: Any) -> str:
    try:
        name = string(value)
    except Invalid as exc:
        raise Invalid(f"header name {exc}") from None
    if not _TOKEN.fullmatch(name):
        raise Invalid(
            f"header name {describe(name)} must be an HTTP token "
            "(letters, digits and !#$%&'*+-.^_`|~)"
        )
    return name


def env_name(value: Any) -> str:
    name = string(value)
    if not _ENV_NAME.fullmatch(name):
        raise Invalid(
            "must name an environment variable (letters, digits and '_', not starting "
            f"with a digit), got {describe(name)}"
        )
    return name


def string_map(names: Check = string, values: Check = string) -> Check:
    """A mapping whose keys pass ``names`` and values pass ``values``; a bad value is
    blamed on its key (``headers.x-api-key``)."""

    def checked(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise Invalid(f"must map names to strings, got {describe(value)}")
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = names(key)
            try:
                out[name] = values(item)
            except Invalid as exc:
                raise Invalid(str(exc), key=shorten(name)) from None
        return out

    return checked


def optional(check: Check) -> Check:
    """``check``, but ``null`` (or ``~``) is accepted as None."""

    def checked(value: Any) -> Any:
        return None if value is None else check(value)

    return checked


# --- what probers share ------------------------------------------------------------------


def failed(
    logger: logging.Logger,
    module: ProbeConfig[Any],
    message: str,
    exc: BaseException | None = None,
) -> ProbeResult:
    """A fail result, logged with the probe's name, kind, target and error type."""
    logger.warning(
        "probe failed: %s",
        message,
        extra={
            "probe": module.name,
            "probe_kind": module.kind,
            "target": module.target,
            "error.type": type(exc).__qualname__ if exc else None,
        },
    )
    return ProbeResult(Status.FAIL, message)


def timed(latency_warn: float | None, started: float, what: str) -> ProbeResult:
    """A passing network probe's result: warn when slower than ``latency_warn``."""
    elapsed = time.perf_counter() - started
    millis = round(elapsed * 1000, 3)
    if latency_warn is not None and elapsed > latency_warn:
        return ProbeResult(
            Status.WARN,
            f"{what} in {millis:g} ms, above {latency_warn * 1000:g} ms",
            observed_value=millis,
            observed_unit="ms",
        )
    return ProbeResult(
        Status.PASS, f"{what} in {millis:g} ms", observed_value=millis, observed_unit="ms"
    )


def error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def host_port(host: str, port: int | None) -> str:
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def decimal(text: str) -> int | None:
    """ASCII digits as an int, else None: ``str.isdigit`` also accepts '²', which int() refuses."""
    return int(text) if text.isascii() and text.isdigit() else None


def env_settings(
    settings: type[DataclassInstance], environ: Mapping[str, str], names: Mapping[str, str]
) -> dict[str, Any]:
    """The settings that set variables stand for (``names`` maps variable to setting),
    each checked as the setting itself is and blamed on the variable when it fails."""
    checks = {spec.name: spec.metadata["check"] for spec in dataclasses.fields(settings)}
    out: dict[str, Any] = {}
    for variable, key in names.items():
        if variable in environ:
            try:
                out[key] = checks[key](environ[variable])
            except Invalid as exc:
                raise InvalidSetting(variable, str(exc), variable=True) from None
    return out


def env_port(environ: Mapping[str, str], name: str) -> int:
    """A port number from the environment, blamed on the variable when it is not one."""
    value = environ[name]
    number = decimal(value)
    if number is None or not 1 <= number <= 65535:
        raise InvalidSetting(
            name, f"must be a port number 1-65535, got {describe(value)}", variable=True
        )
    return number
