"""OTEL_* variables the SDK reads itself: malformed ones are removed before it reads them.

The SDK, the OTLP exporters and opentelemetry.propagate read these straight from
os.environ, and a malformed value gets a traceback, a crash (some at import: the span
attribute limit in opentelemetry.sdk.trace, OTEL_PROPAGATORS in opentelemetry.propagate)
or a line that does not name the variable. :func:`check_sdk_variables` runs when this
module is imported (before any of them is) and again in
:func:`dbsbm_instrumentation.bootstrap.read_settings`, before the providers and exporters
are built. A bad value is reported once (``config_warning``: variable, value, what is used
instead) and *deleted from os.environ* so the SDK takes its default. Deleting is safe:
os.environ is this process's own copy (the shell, the container spec and the collector
never see the change); the only other reader is a child process the bot starts, which
inherits the default the SDK here uses, instead of the same bad value.

Kept free of OpenTelemetry imports: :mod:`dbsbm_instrumentation.bootstrap` and
:mod:`dbsbm_instrumentation.logs` import it before anything from OpenTelemetry.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def _int_at_least(minimum: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return int(value) >= minimum  # int() as the SDK parses it
        except ValueError:
            return False

    return check


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


def _installed_propagators(value: str) -> bool:
    from importlib.metadata import entry_points

    names = {entry.name for entry in entry_points(group="opentelemetry_propagator")}
    return all(item.strip().lower() == "none" or item.strip() in names for item in value.split(","))


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
        ("OTEL_TRACES_SAMPLER",),
        _one_of(*_SAMPLERS),
        f"is not one of {', '.join(_SAMPLERS)}",
        "using parentbased_always_on",
    ),
    (("OTEL_TRACES_SAMPLER_ARG",), _ratio, "is not a number from 0 to 1", "using 1.0"),
    # The SDK compares the exemplar filter case-sensitively (and raises).
    (
        ("OTEL_METRICS_EXEMPLAR_FILTER",),
        _one_of("trace_based", "always_on", "always_off", fold_case=False),
        "is not one of trace_based, always_on, always_off",
        "using trace_based",
    ),
    (("OTEL_EXPORTER_OTLP_COMPRESSION",), _one_of(*_COMPRESSIONS), _NOT_COMPRESSION, "using none"),
    (
        (
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
        ),
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
)


def check_sdk_variables() -> list[tuple[str, str, str, str]]:
    """Delete the malformed ones from os.environ; (variable, value, problem, fallback) each.

    An empty value is deleted silently: the spec reads empty as unset, but the SDK raises
    on some (an empty OTEL_BSP_MAX_QUEUE_SIZE); empty limits mean "no limit" and stay.
    """
    problems: list[tuple[str, str, str, str]] = []
    for variables, check, problem, fallback in SDK_VARIABLES:
        for variable in variables:
            value = os.environ.get(variable)
            if value is None or check(value):
                continue
            del os.environ[variable]
            if value.strip():
                problems.append((variable, value, problem, fallback))
    return problems


# Found when this module is first imported; bootstrap.read_settings() reports them.
found_at_import = check_sdk_variables()
