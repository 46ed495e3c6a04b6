"""Every alert, defined once: Prometheus rules and Grafana alert rules are rendered from it.

An alert is a PromQL ``value`` compared (``>`` or ``<``) with a number from
``thresholds``. Prometheus gets ``value op threshold`` as one expression; Grafana gets
``value`` as query A, reduces it to B and compares B in threshold C, which are the only
comparisons its threshold expression shares with PromQL. Both therefore fire on the same
series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from dbsbm_agent import config as agent_config
from dbsbm_instrumentation import semconv, slo
from deploy.mixin import config as c
from deploy.mixin import rules as r

Severity = Literal["critical", "warning", "info"]

# Set operators bind more loosely than comparisons, and comparisons chain left to right:
# a value holding either is parenthesised before the threshold comparison.
_LOOSE_OPERATOR = re.compile(r"\s(and|or|unless|==|!=|>=|<=|>|<)\s")


@dataclass(frozen=True)
class Alert:
    name: str
    area: str  # rules/<area>.yml, tests/<area>-test.yaml, the Grafana group
    value: str
    op: Literal[">", "<"]
    threshold: float
    for_: str
    severity: Severity
    summary: str  # static, one sentence
    description: str  # templated; ``$value`` is the compared value
    dashboard: str  # dashboards/dbsbm/<dashboard>.json, where diagnosis starts
    labels: dict[str, str] = field(default_factory=dict)  # besides severity

    @property
    def expr(self) -> str:
        value = f"({self.value})" if _LOOSE_OPERATOR.search(self.value) else self.value
        return f"{value} {self.op} {c.num(self.threshold)}"

    @property
    def distinct(self) -> list[str]:
        """What sets this rule apart from others of its name: extra labels, else severity."""
        return list(self.labels.values()) or [self.severity]

    @property
    def key(self) -> str:
        return "-".join([self.name.lower(), *self.distinct])

    def all_labels(self) -> dict[str, str]:
        return {"severity": self.severity, **self.labels}

    def annotations(self, value: str = "$value") -> dict[str, str]:
        """``value`` is how the templating engine spells the compared value."""
        return {
            "summary": self.summary,
            "description": re.sub(r"\$value\b", value, self.description),
            "runbook_url": c.runbook_url(self.name),
        }


def _host(
    name: str, what: str, instrument: semconv.Instrument, matchers: dict[str, str], where: str
) -> tuple[Alert, ...]:
    """One resource alert at the warning ratio and one at the failing ratio."""
    return tuple(
        Alert(
            name=name,
            area="health",
            value=c.selector(instrument, **matchers),
            op=">",
            threshold=ratio,
            for_=c.HOST_RESOURCE_FOR,
            severity=severity,
            summary=f"{what} use is above {c.percent_text(ratio)}.",
            description=f"{what} on {where} is {c.AS_PERCENT} used "
            f"(alerting above {c.percent_text(ratio)} for {c.HOST_RESOURCE_FOR}).",
            dashboard="health-host",
        )
        for ratio, severity in (
            (agent_config.RESOURCE_WARN_RATIO, "warning"),
            (agent_config.RESOURCE_FAIL_RATIO, "critical"),
        )
    )


def _burn_rate() -> tuple[Alert, ...]:
    objective = 1 - slo.ERROR_RATIO_MAX
    alerts = []
    for pair in c.ERROR_BUDGET_WINDOWS:
        limit = pair.factor * slo.ERROR_RATIO_MAX
        alerts.append(
            Alert(
                name="DbsbmCommandErrorBudgetBurn",
                area="commands",
                value=f"{r.error_ratio(pair.short)} and {r.error_ratio(pair.long)} > {c.num(limit)}",
                op=">",
                threshold=limit,
                for_=pair.for_,
                severity=pair.severity,  # type: ignore[arg-type]  # "critical" | "warning"
                summary="Discord commands are burning their error budget too fast.",
                description=(
                    f"Commands of {c.labelled(c.JOB)} failed at {c.AS_PERCENT} "
                    f"over {pair.short}, and above {c.percent_text(limit)} over {pair.long} too: "
                    f"{pair.factor:g}x the error budget of the {c.percent_text(objective)} objective."
                ),
                dashboard="commands",
                labels={"long_window": pair.long, "short_window": pair.short},
            )
        )
    return tuple(alerts)


ALERTS: tuple[Alert, ...] = (
    Alert(
        name="DbsbmApiLatencyHigh",
        area="api",
        value=r.API_LATENCY,
        op=">",
        threshold=slo.API_LATENCY_P95_MAX_SECONDS,
        for_=c.LATENCY_ALERT_FOR,
        severity="warning",
        summary=f"External API {c.percentile(c.QUANTILE)} latency is above its target.",
        description=(
            f"{c.percentile(c.QUANTILE)} latency of requests to {c.labelled(c.SERVER)} is "
            f"{c.AS_DURATION} (target "
            f"{c.seconds_text(slo.API_LATENCY_P95_MAX_SECONDS)})."
        ),
        dashboard="external-apis",
    ),
    Alert(
        name="DbsbmApiRateLimited",
        area="api",
        value=r.API_RATE_LIMITED,
        op=">",
        threshold=c.RATE_LIMITED_RESPONSES_MAX,
        for_=c.RATE_LIMITED_FOR,
        severity="warning",
        summary="An external API is answering with HTTP 429 (rate limited).",
        description=(
            f"{c.labelled(c.SERVER)} answered {c.AS_NUMBER} requests with "
            f"HTTP 429 in the last {c.WINDOW}."
        ),
        dashboard="external-apis",
    ),
    Alert(
        name="DbsbmDatabaseLatencyHigh",
        area="database",
        value=r.DB_LATENCY,
        op=">",
        threshold=slo.DB_QUERY_P95_MAX_SECONDS,
        for_=c.LATENCY_ALERT_FOR,
        severity="warning",
        summary=f"Database {c.percentile(c.QUANTILE)} query time is above its target.",
        description=(
            f"{c.percentile(c.QUANTILE)} database operation time of {c.labelled(c.JOB)} is "
            f"{c.AS_DURATION} (target "
            f"{c.seconds_text(slo.DB_QUERY_P95_MAX_SECONDS)})."
        ),
        dashboard="database-cache",
    ),
    Alert(
        name="DbsbmCacheHitRatioLow",
        area="cache",
        value=f"{r.CACHE_HIT_RATIO} and {r.CACHE_LOOKUPS} > 0",
        op="<",
        threshold=slo.CACHE_HIT_RATIO_MIN,
        for_=c.CACHE_HIT_ALERT_FOR,
        severity="warning",
        summary="Cache hit ratio is below its target.",
        description=(
            f"Cache hit ratio of {c.labelled(c.JOB)} is {c.AS_PERCENT} "
            f"(target above {c.percent_text(slo.CACHE_HIT_RATIO_MIN)})."
        ),
        dashboard="database-cache",
    ),
    Alert(
        name="DbsbmCacheFallbackActive",
        area="cache",
        value=f"max {c.by(c.JOB, c.INSTANCE)} ({c.selector(semconv.CACHE_FALLBACK_ACTIVE)})",
        op=">",
        threshold=0,
        for_=c.CACHE_FALLBACK_FOR,
        severity="warning",
        summary="The cache is serving from its local tier because Redis is unavailable.",
        description=(
            f"{c.labelled(c.JOB)} on {c.labelled(c.INSTANCE)} has served from the local "
            f"cache tier for more than {c.CACHE_FALLBACK_FOR}: Redis is unreachable."
        ),
        dashboard="database-cache",
    ),
    Alert(
        name="DbsbmCircuitBreakerOpen",
        area="resilience",
        value=(
            f"{c.selector(semconv.BREAKER_STATE_GAUGE)} == bool "
            f"{semconv.BREAKER_STATE_VALUES['open']}"
        ),
        op=">",
        threshold=0,
        for_=c.BREAKER_OPEN_FOR,
        severity="warning",
        summary="A circuit breaker is open: calls to its dependency are short-circuited.",
        description=(
            f"Circuit breaker {c.labelled(c.BREAKER)} of {c.labelled(c.JOB)} has been "
            f"open for more than {c.BREAKER_OPEN_FOR}."
        ),
        dashboard="database-cache",
    ),
    *_burn_rate(),
    Alert(
        name="DbsbmProbeFailing",
        area="health",
        value=f"min {c.by(c.JOB, c.PROBE)} ({c.selector(semconv.PROBE_SUCCESS)})",
        op="<",
        threshold=1,
        for_=c.PROBE_FAILING_FOR,
        severity="critical",
        summary="A health probe is failing.",
        description=(
            f"Probe {c.labelled(c.PROBE)} of {c.labelled(c.JOB)} has failed for more "
            f"than {c.PROBE_FAILING_FOR}."
        ),
        dashboard="health-host",
    ),
    *_host(
        "DbsbmHostMemoryHigh",
        "Memory",
        semconv.SYSTEM_MEMORY_UTILIZATION,
        {c.HOST_STATE: c.USED},
        f"{c.labelled(c.INSTANCE)}",
    ),
    *_host(
        "DbsbmHostDiskHigh",
        "Disk",
        semconv.SYSTEM_FILESYSTEM_UTILIZATION,
        {},
        f"{c.labelled(c.INSTANCE)} ({c.labelled(c.MOUNTPOINT)} on {c.labelled(c.DEVICE)})",
    ),
)

AREAS: tuple[str, ...] = tuple(dict.fromkeys([*r.RECORDS, *(a.area for a in ALERTS)]))
