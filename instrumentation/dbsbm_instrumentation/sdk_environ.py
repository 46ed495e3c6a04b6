"""The ``OTEL_*`` variables the SDK reads itself: checked before it reads them.

The SDK, its exporters and opentelemetry.propagate read these straight from os.environ,
and a malformed value gets a traceback, a crash (some at import: the span attribute limit
in opentelemetry.sdk.trace, OTEL_PROPAGATORS in opentelemetry.propagate) or a line that
does not name the variable. :func:`check_sdk_variables` runs in the configure calls
(:func:`dbsbm_instrumentation.bootstrap.configure_telemetry`, the distro's ``configure``),
before the SDK is imported or builds anything; importing this module does nothing.

A bad value is reported once (variable, value, what is used instead) and *removed from
os.environ* so the SDK takes its default; a list with bad items (resource attributes,
headers) keeps its good items. Changing os.environ is safe: it is this process's own
copy (the shell, the container spec and the collector never see it); the only other
reader is a child process the bot starts, which inherits what the SDK here uses.

Kept free of OpenTelemetry imports for that reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Literal
from urllib.parse import urlsplit

Signal = Literal["traces", "metrics", "logs"]
SIGNALS: tuple[Signal, ...] = ("traces", "metrics", "logs")
# OTLP over HTTP, the spec's default; the SDK's ``otlp`` alias alone would mean gRPC.
DEFAULT_PROTOCOL = "http/protobuf"
DEFAULT_EXPORTER = "otlp"
# Attribute limits unless the user set them (an empty value is the SDK's "no limit"): one
# 15 MB attribute or 100,000 of them make one item, not a batch nobody can receive.
DEFAULT_LIMITS = {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "16384", "OTEL_ATTRIBUTE_COUNT_LIMIT": "128"}

Problem = tuple[str, str, str, str]  # variable, value, what is wrong, what is used instead


def _int_at_least(minimum: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return int(value) >= minimum  # int() as the SDK parses it
        except ValueError:
            return False

    return check


def _positive_number(value: str) -> bool:
    try:
        return float(value) > 0  # also rejects NaN
    except ValueError:
        return False


def _limit(value: str) -> bool:
    # The SDK reads an empty limit as "no limit".
    return not value.strip() or _int_at_least(0)(value)


def _one_of(*choices: str, fold_case: bool = True) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        value = value.strip()
        return (value.lower() if fold_case else value) in choices

    return check


def _ratio(value: str) -> bool:
    try:
        return 0.0 <= float(value) <= 1.0  # also rejects NaN
    except ValueError:
        return False


def _http_url(value: str) -> bool:
    parts = urlsplit(value.strip())
    try:
        parts.port  # noqa: B018 - the attribute access raises on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value


def _entry_point_names(group: str) -> set[str]:
    from importlib.metadata import entry_points

    return {entry.name for entry in entry_points(group=group)}


def _installed_propagators(value: str) -> bool:
    names = _entry_point_names("opentelemetry_propagator")
    return all(item.strip().lower() == "none" or item.strip() in names for item in value.split(","))


def _installed_exporters(signal: str) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        names = _entry_point_names(f"opentelemetry_{signal}_exporter") | {"otlp"}
        items = [item.strip() for item in value.split(",")]
        return value.strip().lower() == "none" or all(item in names for item in items)

    return check


def _per_signal(template: str) -> tuple[str, ...]:
    return tuple(template.format(signal.upper()) for signal in SIGNALS)


_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
_COUNT = "is not an integer >= 0"
_COMPRESSIONS = ("gzip", "deflate", "none")
_NOT_COMPRESSION = "is not one of gzip, deflate, none"
_PROTOCOLS = ("grpc", "http/protobuf")
_NOT_PROTOCOL = "is not one of grpc, http/protobuf"
_MILLISECONDS = "is not a number > 0 (milliseconds)"
_SECONDS = "is not a number > 0 (seconds)"
_NOT_URL = "is not an http(s) URL"
# (variables, check, problem, what the SDK uses once the variable is gone)
SDK_VARIABLES: tuple[tuple[tuple[str, ...], Callable[[str], bool], str, str], ...] = (
    (
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT"),
        _limit,
        _COUNT,
        "using 128",
    ),
    (
        (
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
        ),
        _limit,
        _COUNT,
        "using OTEL_ATTRIBUTE_COUNT_LIMIT or 128",
    ),
    (("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",), _limit, _COUNT, "using no limit"),
    (
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
        _limit,
        _COUNT,
        "using OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT or no limit",
    ),
    (
        ("OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BLRP_MAX_QUEUE_SIZE"),
        _int_at_least(1),
        "is not an integer > 0",
        "using 2048",
    ),
    (
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"),
        _int_at_least(1),
        "is not an integer > 0",
        "using 512",
    ),
    (
        ("OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BLRP_EXPORT_TIMEOUT"),
        _int_at_least(0),
        "is not an integer >= 0 (milliseconds)",
        "using 30000",
    ),
    (
        ("OTEL_BSP_SCHEDULE_DELAY",),
        _int_at_least(1),
        "is not an integer > 0 (milliseconds)",
        "using 5000",
    ),
    (
        ("OTEL_BLRP_SCHEDULE_DELAY",),
        _int_at_least(1),
        "is not an integer > 0 (milliseconds)",
        "using 1000",
    ),
    (("OTEL_METRIC_EXPORT_INTERVAL",), _positive_number, _MILLISECONDS, "using 60000"),
    (("OTEL_METRIC_EXPORT_TIMEOUT",), _positive_number, _MILLISECONDS, "using 30000"),
    (
        ("OTEL_TRACES_SAMPLER",),
        _one_of(*_SAMPLERS),
        f"is not one of {', '.join(_SAMPLERS)}",
        "using parentbased_always_on",
    ),
    # The SDK compares the exemplar filter case-sensitively (and raises).
    (
        ("OTEL_METRICS_EXEMPLAR_FILTER",),
        _one_of("trace_based", "always_on", "always_off", fold_case=False),
        "is not one of trace_based, always_on, always_off",
        "using trace_based",
    ),
    (("OTEL_EXPORTER_OTLP_PROTOCOL",), _one_of(*_PROTOCOLS), _NOT_PROTOCOL, "using http/protobuf"),
    (
        _per_signal("OTEL_EXPORTER_OTLP_{}_PROTOCOL"),
        _one_of(*_PROTOCOLS),
        _NOT_PROTOCOL,
        "using OTEL_EXPORTER_OTLP_PROTOCOL or http/protobuf",
    ),
    (("OTEL_EXPORTER_OTLP_ENDPOINT",), _http_url, _NOT_URL, "using the default endpoint"),
    (
        _per_signal("OTEL_EXPORTER_OTLP_{}_ENDPOINT"),
        _http_url,
        _NOT_URL,
        "using OTEL_EXPORTER_OTLP_ENDPOINT or the default",
    ),
    (("OTEL_EXPORTER_OTLP_TIMEOUT",), _positive_number, _SECONDS, "using the default"),
    (
        _per_signal("OTEL_EXPORTER_OTLP_{}_TIMEOUT"),
        _positive_number,
        _SECONDS,
        "using OTEL_EXPORTER_OTLP_TIMEOUT or the default",
    ),
    (("OTEL_EXPORTER_OTLP_COMPRESSION",), _one_of(*_COMPRESSIONS), _NOT_COMPRESSION, "using none"),
    (
        _per_signal("OTEL_EXPORTER_OTLP_{}_COMPRESSION"),
        _one_of(*_COMPRESSIONS),
        _NOT_COMPRESSION,
        "using OTEL_EXPORTER_OTLP_COMPRESSION or none",
    ),
    (
        ("OTEL_PROPAGATORS",),
        _installed_propagators,
        "names a propagator that is not installed",
        "using tracecontext,baggage",
    ),
    *(
        (
            (f"OTEL_{signal.upper()}_EXPORTER",),
            _installed_exporters(signal),
            "names an exporter that is not installed",
            f"using {DEFAULT_EXPORTER}",
        )
        for signal in SIGNALS
    ),
)

# W3C-baggage-style ``k=v,k2=v2`` lists: items that are not key=value are dropped.
PAIR_LISTS = ("OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_HEADERS") + _per_signal(
    "OTEL_EXPORTER_OTLP_{}_HEADERS"
)


def _check_pairs(variable: str, value: str) -> Problem | None:
    items = [item.strip() for item in value.split(",") if item.strip()]
    bad = [item for item in items if not item.partition("=")[0].strip() or "=" not in item]
    if not bad:
        return None
    os.environ[variable] = ",".join(item for item in items if item not in bad)
    return (
        variable,
        value,
        f"has items that are not key=value ({', '.join(bad)})",
        "ignoring them",
    )


def check_sdk_variables() -> list[Problem]:
    """Remove the malformed values from os.environ; one :data:`Problem` per value removed.

    An empty value is removed silently: the spec reads empty as unset, but the SDK raises
    on some (an empty OTEL_BSP_MAX_QUEUE_SIZE); empty limits mean "no limit" and stay.
    A bad OTEL_TRACES_SAMPLER_ARG becomes 1.0 rather than going: a ratio sampler without
    it would complain again, without naming it.
    """
    problems: list[Problem] = []
    for variables, check, problem, fallback in SDK_VARIABLES:
        for variable in variables:
            value = os.environ.get(variable)
            if value is None or check(value):
                continue
            del os.environ[variable]
            if value.strip():
                problems.append((variable, value, problem, fallback))
    sampler_arg = os.environ.get("OTEL_TRACES_SAMPLER_ARG")
    if sampler_arg is not None and not _ratio(sampler_arg):
        os.environ["OTEL_TRACES_SAMPLER_ARG"] = "1.0"
        problems.append(
            ("OTEL_TRACES_SAMPLER_ARG", sampler_arg, "is not a number from 0 to 1", "using 1.0")
        )
    for variable in PAIR_LISTS:
        value = os.environ.get(variable)
        found = None if value is None else _check_pairs(variable, value)
        if found is not None:
            problems.append(found)
    return problems


def set_defaults() -> None:
    """Our defaults where the user set nothing: every signal exported over OTLP/HTTP,
    attribute values of at most 16,384 characters and at most 128 attributes.

    Why: the SDK's configurator exports nothing unless ``OTEL_*_EXPORTER`` names an
    exporter, and reads ``otlp`` as gRPC unless a protocol is set. The protocol is set
    per signal, and only for a signal exported with ``otlp``: a general one would make
    the SDK warn about an explicit ``otlp_proto_grpc`` elsewhere.
    """
    for signal in SIGNALS:
        variable = f"OTEL_{signal.upper()}_EXPORTER"
        if not os.environ.get(variable, "").strip():
            os.environ[variable] = DEFAULT_EXPORTER
        names = {name.strip() for name in os.environ[variable].split(",")}
        protocols = ("OTEL_EXPORTER_OTLP_PROTOCOL", f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL")
        if "otlp" in names and not any(os.environ.get(name, "").strip() for name in protocols):
            os.environ[protocols[1]] = DEFAULT_PROTOCOL
    for variable, value in DEFAULT_LIMITS.items():
        os.environ.setdefault(variable, value)
