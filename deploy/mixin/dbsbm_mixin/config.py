"""Selectors, label names and PromQL building blocks: the mixin's ``_config``.

Every metric name is ``semconv.<INSTRUMENT>.prometheus`` and every label
``semconv.label(<attribute>)``; numbers come from ``slo`` (targets) and the alert policy below. The
alert, rule and dashboard modules only combine what is defined here, so no name or number
is spelled twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_CLIENT_CONNECTION_POOL_NAME,
    DB_CLIENT_CONNECTION_STATE,
)
from opentelemetry.semconv._incubating.attributes.host_attributes import (
    HOST_NAME as HOST_NAME_ATTRIBUTE,
)
from opentelemetry.semconv.attributes.db_attributes import DB_OPERATION_NAME, DB_SYSTEM_NAME
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS

from dbsbm_instrumentation import semconv
from dbsbm_instrumentation.semconv import Instrument, label

# --- Grafana: datasource uids (alert rules and dashboards reference them) and URLs ---------------
# URLs are the compose service names: Grafana reaches the backends over the compose network.
PROMETHEUS_UID = "dbsbm-prometheus"
TEMPO_UID = "dbsbm-tempo"
LOKI_UID = "dbsbm-loki"
PROMETHEUS_URL = "http://prometheus:9090"
TEMPO_URL = "http://tempo:3200"
LOKI_URL = "http://loki:3100"
EXPRESSION_UID = "__expr__"  # Grafana's server-side expressions pseudo-datasource
GRAFANA_FOLDER = "DBSBM"
GRAFANA_ORG_ID = 1
# Where people open Grafana (compose binds it to 127.0.0.1:3000): alerts link their dashboard.
GRAFANA_EXTERNAL_URL = "http://127.0.0.1:3000"

# --- notifications (Alertmanager and Grafana alike) -------------------------------------------
CONTACT_POINT = "discord"
SILENT_RECEIVER = "silent"  # info alerts: visible in Prometheus and Grafana, never sent
# Grafana expands $NAME in provisioning files (the compose file passes these through);
# deploy/alertmanager/render.sh substitutes them for Alertmanager, which cannot.
DISCORD_WEBHOOK_ENV = "DISCORD_ALERT_WEBHOOK_URL"
DISCORD_ROLE_ENV = "DISCORD_CRITICAL_ROLE_ID"  # optional: critical messages mention this role
# One message per alert name and severity, listing its instances (hosts, servers, probes).
NOTIFY_GROUP_BY = ("alertname", "severity")
# A group's first message waits this long for siblings from the same rule evaluation.
NOTIFY_GROUP_WAIT = "30s"
# A group that has notified sends changes (new or resolved instances) at most this often.
NOTIFY_GROUP_INTERVAL = "5m"

# --- labels -----------------------------------------------------------------------------------
SERVER = label(SERVER_ADDRESS)
HTTP_STATUS = label(HTTP_RESPONSE_STATUS_CODE)
DB_SYSTEM = label(DB_SYSTEM_NAME)
DB_OPERATION = label(DB_OPERATION_NAME)
DB_POOL = label(DB_CLIENT_CONNECTION_POOL_NAME)
DB_CONNECTION_STATE = label(DB_CLIENT_CONNECTION_STATE)
ERROR = label(ERROR_TYPE)
CACHE_RESULT = label(semconv.CACHE_RESULT)
CACHE_OPERATION = label(semconv.CACHE_OPERATION)
CACHE_TIER = label(semconv.CACHE_TIER)
COMMAND = label(semconv.DISCORD_COMMAND_NAME)
COMMAND_TYPE = label(semconv.DISCORD_COMMAND_TYPE)
BREAKER = label(semconv.BREAKER_NAME)
RETRY_OPERATION = label(semconv.RETRY_OPERATION)
PROBE = label(semconv.PROBE_NAME)
PROBE_KIND = label(semconv.PROBE_KIND)
HOST_STATE = label(semconv.HOST_STATE)
# Host metrics have no service.name, hence no job/instance: the collector promotes host.name.
HOST_NAME = label(HOST_NAME_ATTRIBUTE)
MOUNTPOINT = label(semconv.HOST_FILESYSTEM_MOUNTPOINT)
DEVICE = label(semconv.HOST_FILESYSTEM_DEVICE)
# Prometheus' own labels, not attributes: ``job``/``instance`` are what the remote-write
# exporter makes of service.name/service.instance.id, ``le`` is the histogram bucket bound.
JOB = "job"
INSTANCE = "instance"
LE = "le"

# --- the pipeline's own metrics: Prometheus' and the collector's, not ours (so not semconv) ---
UP = "up"  # per scrape target
TARGET_INFO = "target_info"  # one series per resource that sends (or is scraped)
RULE_EVALUATION_FAILURES = "prometheus_rule_evaluation_failures_total"
COLLECTOR_QUEUE_SIZE = "otelcol_exporter_queue_size"
COLLECTOR_QUEUE_CAPACITY = "otelcol_exporter_queue_capacity"
# Counters per signal (_spans, _metric_points, _log_records); the collector exposes them
# without _total, a scrape in OpenMetrics format may add it: both are matched.
COLLECTOR_ACCEPTED = "otelcol_receiver_accepted"
COLLECTOR_REFUSED = "otelcol_receiver_refused"  # pushed back (memory limiter): senders retry
COLLECTOR_RECEIVE_FAILED = "otelcol_receiver_failed"  # the receiver could not take it in
COLLECTOR_SENT = "otelcol_exporter_sent"
COLLECTOR_SEND_FAILED = "otelcol_exporter_send_failed"
COLLECTOR_ENQUEUE_FAILED = "otelcol_exporter_enqueue_failed"
PIPELINE_METRICS = (
    UP,
    TARGET_INFO,
    RULE_EVALUATION_FAILURES,
    COLLECTOR_QUEUE_SIZE,
    COLLECTOR_QUEUE_CAPACITY,
)
RECEIVER, EXPORTER, DATA_TYPE, RULE_GROUP = "receiver", "exporter", "data_type", "rule_group"
SIGNAL = "signal"  # ours: per_signal_rate() tells the collector's per-signal counters apart
SENDERS = f'{TARGET_INFO}{{{JOB}!=""}}'  # one per sending resource (host metrics have no job)

# Label values the instrumentation writes (semconv.py documents them beside the attribute).
HIT, MISS, GET = "hit", "miss", "get"
USED, IDLE = "used", "idle"

# --- alert policy: windows and timings (the runtime's targets come from ``slo``) --------
LATENCY_ALERT_FOR = "10m"  # p95 above target for this long
CACHE_HIT_ALERT_FOR = "15m"
PROBE_FAILING_FOR = "2m"  # about four 30 s probe intervals
BREAKER_OPEN_FOR = "1m"
CACHE_FALLBACK_FOR = "5m"
# Shorter than RATE_WINDOW: 429s held in the window keep the rule true only while the window
# holds them, so a for as long as the window would need a second 429 a window later, and a
# lone pair of 429s would never notify.
RATE_LIMITED_FOR = "1m"
HOST_RESOURCE_FOR = "10m"
# Hung dependencies: work in flight that never finishes reaches no duration histogram.
DB_HUNG_WINDOW = "2m"  # no database operation completed in this window while some are active
DB_HUNG_FOR = "2m"
DB_SATURATED_FOR = "2m"  # callers waiting for a connection while every one is in use
COMMANDS_HUNG_WINDOW = "5m"  # no command completed in this window while some are active
COMMANDS_HUNG_FOR = "2m"
TELEMETRY_STOPPED_FOR = "2m"  # after Prometheus' 5m lookback has let the series go
# How far back a sender counts as expected: one that stopped longer ago is forgotten.
TELEMETRY_MEMORY = "1d"
COLLECTOR_TROUBLE_FOR = "5m"
COLLECTOR_QUEUE_RATIO_MAX = 0.8  # of the exporter's sending queue
SCRAPE_FAILING_FOR = "5m"
RULE_FAILING_FOR = "5m"
ALERT_EVALUATION_INTERVAL = "1m"  # Prometheus rule groups and Grafana alert groups
RATE_WINDOW = "5m"  # rate()/increase() window of the latency, cache and 429 rules
LATENCY_QUANTILE = 0.95  # slo.py's latency targets are p95s
DASHBOARD_QUANTILES = (0.50, 0.95)  # latency panels draw these
RATE_LIMITED_RESPONSES_MAX = 0  # 429s tolerated per RATE_WINDOW before alerting

# critical: a person now (pages); warning: the same day (a ticket); info: context only.
Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class Route:
    """How alerts of one severity notify: where, how fast, how often again while firing."""

    severity: Severity
    receiver: str
    group_wait: str = NOTIFY_GROUP_WAIT
    repeat_interval: str = "4h"


ROUTES = (
    # Pages: sent sooner, repeated hourly until resolved or silenced.
    Route("critical", CONTACT_POINT, group_wait="10s", repeat_interval="1h"),
    # Same-day work: a reminder twice a working day is enough.
    Route("warning", CONTACT_POINT, repeat_interval="4h"),
    Route("info", SILENT_RECEIVER),
)


@dataclass(frozen=True)
class BurnRateWindow:
    """One multi-window burn-rate pair (Google SRE workbook, as sloth and pyrra do it)."""

    long: str
    short: str
    factor: float
    severity: Severity
    for_: str


ERROR_BUDGET_WINDOWS = (
    BurnRateWindow(long="1h", short="5m", factor=14.4, severity="critical", for_="2m"),
    BurnRateWindow(long="6h", short="30m", factor=6.0, severity="critical", for_="15m"),
    BurnRateWindow(long="1d", short="2h", factor=3.0, severity="warning", for_="1h"),
    BurnRateWindow(long="3d", short="6h", factor=1.0, severity="warning", for_="3h"),
)

RUNBOOK_URL_PATTERN = (
    "https://github.com/dbsbm/dbsbm-observability/blob/main/docs/runbook.md#alert-name-{name}"
)

WINDOW = RATE_WINDOW
QUANTILE = LATENCY_QUANTILE


def num(value: float) -> str:
    """A threshold as PromQL and YAML spell it: ``0.2``, ``0.0144``, ``2``."""
    return f"{value:g}"


def percentile(quantile: float) -> str:
    """``0.95`` -> ``p95``, for recording-rule names and legends."""
    return f"p{quantile * 100:g}"


def by(*labels: str) -> str:
    return f"by ({', '.join(labels)})"


def selector(instrument: Instrument, suffix: str = "", **matchers: str) -> str:
    """``metric_suffix{label="value", label=~"a|b"}``; a value starting ``~`` is a regex."""
    parts = []
    for name, value in matchers.items():
        op, value = ("=~", value[1:]) if value.startswith("~") else ("=", value)
        parts.append(f'{name}{op}"{value}"')
    name = instrument.prometheus + suffix
    return f"{name}{{{', '.join(parts)}}}" if parts else name


def per_signal_rate(prefix: str, window: str = WINDOW) -> str:
    """The rate of every signal's counter of a collector family, told apart by ``signal``.

    One ``rate()`` over ``{__name__=~...}`` would drop the names and leave duplicate label
    sets, which Prometheus refuses; each counter gets a ``signal`` label instead.
    """
    return " or ".join(
        f'label_replace(rate({{__name__=~"{prefix}_{signal}(_total)?"}}[{window}]), '
        f'"{SIGNAL}", "{signal}", "", "")'
        for signal in ("spans", "metric_points", "log_records")
    )


def rate(instrument: Instrument, window: str = WINDOW, suffix: str = "", **matchers: str) -> str:
    return f"rate({selector(instrument, suffix, **matchers)}[{window}])"


def sum_rate(
    instrument: Instrument,
    labels: tuple[str, ...],
    window: str = WINDOW,
    suffix: str = "",
    **matchers: str,
) -> str:
    grouping = f" {by(*labels)} " if labels else ""
    return f"sum{grouping}({rate(instrument, window, suffix, **matchers)})"


def counted_increase(
    instrument: Instrument,
    labels: tuple[str, ...],
    window: str = WINDOW,
    suffix: str = "",
    **matchers: str,
) -> str:
    """The increase over ``window`` summed ``by labels``, a series' first increments included.

    An OpenTelemetry counter has no series until its first increment, and the series arrives
    already holding it (two 429s: first sample 2). ``increase()`` counts only growth between
    samples, so it misses that first value. The runtime starts the label sets it knows at 0,
    but not those it cannot know in advance (an ``error.type``, a host not configured).
    A series that did not exist ``window`` ago (``x unless x offset window``) gained all it
    holds within the window, since its sender started it at 0: its value is its increase.
    That holds only if Prometheus knew the sender before the series appeared, i.e. its
    ``target_info`` has more samples in the window than the series has: after Prometheus'
    own start, or a gap in its data, a long-running sender's totals would otherwise count
    as one burst (such series count from their second sample, as ``increase()`` alone
    does). Ratios of counts use increases, not rates: the ratio is the same and no window
    length is written twice.
    """
    series = selector(instrument, suffix, **matchers)
    sender = f"{by(JOB, INSTANCE)} (count_over_time({TARGET_INFO}[{window}]))"
    known = (
        f"count_over_time({series}[{window}]) < on ({JOB}, {INSTANCE}) group_left () max {sender}"
    )
    new = f"(({series} unless {series} offset {window}) and ({known}))"
    grouping = f" {by(*labels)} " if labels else ""
    return f"sum{grouping}((increase({series}[{window}]) unless {new}) or {new})"


def stalled(active: Instrument, completed: Instrument, window: str) -> str:
    """Work in flight per job while none of it completed in ``window``: a hang.

    Hung work never finishes, so it never reaches ``completed``'s histogram and the latency
    and error ratios stay calm; the in-flight count is what shows it.
    """
    assert completed.kind == "histogram", completed.name
    done = f"sum {by(JOB)} (increase({selector(completed, '_count')}[{window}]))"
    return f"sum {by(JOB)} ({selector(active)}) unless on ({JOB}) {done} > 0"


def pool_saturated() -> str:
    """Callers waiting per pool while every one of its connections is in use."""
    pool = (JOB, DB_POOL)
    used = selector(semconv.DB_CONNECTION_COUNT, **{DB_CONNECTION_STATE: USED})
    return (
        f"sum {by(*pool)} ({selector(semconv.DB_CONNECTION_PENDING_REQUESTS)}) "
        f"and on ({', '.join(pool)}) sum {by(*pool)} ({used}) "
        f">= on ({', '.join(pool)}) sum {by(*pool)} ({selector(semconv.DB_CONNECTION_MAX)})"
    )


def histogram_quantile(
    quantile: float,
    instrument: Instrument,
    labels: tuple[str, ...],
    window: str = WINDOW,
) -> str:
    """The ``quantile`` of a histogram's buckets over ``window``, kept by ``labels``."""
    assert instrument.kind == "histogram", instrument.name
    buckets = sum_rate(instrument, (*labels, LE), window, suffix="_bucket")
    return f"histogram_quantile({num(quantile)}, {buckets})"


def record_name(labels: tuple[str, ...], metric: str, operation: str) -> str:
    """A recording rule's name, ``level:metric:operation`` (Prometheus naming practice)."""
    return f"{'_'.join(labels)}:{metric.removesuffix('_total')}:{operation}"


def error_ratio(window: str, labels: tuple[str, ...]) -> str:
    """Command errors over command calls in ``window``: the SLI the error budget is spent from.

    Both counts include a series' first increments (``counted_increase``): the first error
    of a kind is the one that matters. The error counter has no series until the first
    error (its ``error.type`` cannot be known in advance), so where there are calls and no
    errors the ratio is 0, not missing: a healthy bot reads 0, and no data means no calls.
    """
    errors = counted_increase(semconv.DISCORD_COMMAND_ERRORS, labels, window)
    calls = counted_increase(semconv.DISCORD_COMMAND_DURATION, labels, window, suffix="_count")
    return f"({errors} or {calls} * 0) / {calls}"


def cache_hit_ratio(labels: tuple[str, ...]) -> str:
    """Hits over lookups of ``get`` across both tiers, as the cache's own get_stats() counts."""
    hits = sum_rate(semconv.CACHE_OPERATIONS, labels, **{CACHE_OPERATION: GET, CACHE_RESULT: HIT})
    return f"{hits} / {cache_lookups(labels)}"


def cache_lookups(labels: tuple[str, ...]) -> str:
    """``get`` hits plus misses per second: zero means no traffic, so no ratio to judge."""
    return sum_rate(
        semconv.CACHE_OPERATIONS,
        labels,
        **{CACHE_OPERATION: GET, CACHE_RESULT: f"~{HIT}|{MISS}"},
    )


# --- alert templates (Prometheus syntax; grafana.py rewrites $value for Grafana) ------------
AS_PERCENT = "{{ $value | humanizePercentage }}"
AS_DURATION = "{{ $value | humanizeDuration }}"
AS_NUMBER = "{{ $value | humanize }}"


def labelled(name: str) -> str:
    """An alert template's reference to one of the alert's labels."""
    return f"{{{{ $labels.{name} }}}}"


def runbook_url(alert_name: str) -> str:
    return RUNBOOK_URL_PATTERN.format(name=alert_name.lower())


def dashboard_url(stem: str, panel_id: int | None = None) -> str:
    """The dashboard, or with ``panel_id`` that one panel on its own (Grafana's ``viewPanel``)."""
    url = f"{GRAFANA_EXTERNAL_URL}/d/{dashboard_uid(stem)}"
    return url if panel_id is None else f"{url}?viewPanel={panel_id}"


RUNBOOK_PAGE = RUNBOOK_URL_PATTERN.split("#")[0]


def legend(*labels: str) -> str:
    """A Grafana legend showing ``labels``: ``{{job}} {{instance}}``."""
    return " ".join(f"{{{{{name}}}}}" for name in labels)


def dashboard_uid(stem: str) -> str:
    """Fixed per file name, so links and bookmarks survive regeneration."""
    return f"dbsbm-{stem}"


def seconds_text(seconds: float) -> str:
    """``0.2`` -> ``200ms``: thresholds as the docs and annotations print them."""
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def percent_text(ratio: float) -> str:
    return f"{ratio * 100:g}%"
