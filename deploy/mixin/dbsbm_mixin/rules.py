"""Recording rules, named ``level:metric:operation``, one tuple per area.

Alerts compare these series against thresholds, and both Prometheus and Grafana evaluate
the same alert expressions, so the expensive quantiles and ratios are computed once, here.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbsbm_instrumentation import semconv
from dbsbm_mixin import config as c


@dataclass(frozen=True)
class Record:
    record: str
    expr: str


_RATE = f"rate{c.WINDOW}"
_P = c.percentile(c.QUANTILE)

# api
API_LATENCY = c.record_name((c.SERVER,), semconv.HTTP_CLIENT_DURATION.prometheus, f"{_P}_{_RATE}")
API_RATE_LIMITED = c.record_name(
    (c.SERVER,),
    semconv.API_RATE_LIMITED.prometheus,
    f"increase{c.WINDOW}",
)
# database
DB_LATENCY = c.record_name((c.JOB,), semconv.DB_OPERATION_DURATION.prometheus, f"{_P}_{_RATE}")
# cache
_CACHE = semconv.CACHE_OPERATIONS.prometheus
CACHE_HIT_RATIO = c.record_name((c.JOB,), _CACHE, f"hit_ratio_{_RATE}")
CACHE_LOOKUPS = c.record_name((c.JOB,), _CACHE, f"lookups_{_RATE}")


def _window_seconds(window: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(window[:-1]) * units[window[-1]]


# commands: one error ratio per window that a burn-rate pair uses
ERROR_WINDOWS = tuple(
    sorted(
        {w for pair in c.ERROR_BUDGET_WINDOWS for w in (pair.long, pair.short)},
        key=_window_seconds,
    )
)


def error_ratio(window: str) -> str:
    """The recording rule holding the command error ratio over ``window``."""
    return c.record_name((c.JOB,), semconv.DISCORD_COMMAND_ERRORS.prometheus, f"ratio_rate{window}")


RECORDS: dict[str, tuple[Record, ...]] = {
    "api": (
        Record(
            API_LATENCY,
            c.histogram_quantile(c.QUANTILE, semconv.HTTP_CLIENT_DURATION, (c.SERVER,)),
        ),
        Record(API_RATE_LIMITED, c.counted_increase(semconv.API_RATE_LIMITED, (c.SERVER,))),
    ),
    "database": (
        Record(
            DB_LATENCY,
            c.histogram_quantile(c.QUANTILE, semconv.DB_OPERATION_DURATION, (c.JOB,)),
        ),
    ),
    "cache": (
        Record(CACHE_HIT_RATIO, c.cache_hit_ratio((c.JOB,))),
        Record(CACHE_LOOKUPS, c.cache_lookups((c.JOB,))),
    ),
    "commands": tuple(Record(error_ratio(w), c.error_ratio(w, (c.JOB,))) for w in ERROR_WINDOWS),
}
