"""Dashboards, one JSON file per topic, and the file provider that loads them.

A small builder of our own instead of grafana-foundation-sdk: PyPI's newest
grafana-foundation-sdk build carries the 10.1 schema line under its epoch, we need two
panel types and a grid, and this keeps the deploy free of another pinned dependency.
Grafana migrates the ``schemaVersion`` below on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbsbm_agent import config as agent_config
from dbsbm_instrumentation import semconv, slo
from dbsbm_mixin import config as c
from dbsbm_mixin.output import yaml_text

SCHEMA_VERSION = 39
DASHBOARDS_DIR = "dbsbm"  # provisioning/dashboards/dbsbm/*.json
# Where the compose file mounts deploy/grafana/provisioning inside the Grafana container.
CONTAINER_PROVISIONING = "/etc/grafana/provisioning"
_PROMETHEUS = {"type": "prometheus", "uid": c.PROMETHEUS_UID}
_HEIGHT = {"stat": 5, "timeseries": 8}


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = "__auto"
    exemplar: bool = False  # latency histograms: exemplars link to traces in Tempo


@dataclass(frozen=True)
class Panel:
    kind: str  # "stat" | "timeseries"
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    # (value, colour) steps after the base colour; drawn as lines on time series
    steps: tuple[tuple[float, str], ...] = ()
    base: str = "green"
    description: str = ""
    mappings: tuple[dict[str, Any], ...] = ()
    # Why a healthy run may leave this panel empty ("until the first retry: ..."), printed as
    # "No data <empty>." on the panel; the end-to-end test accepts an empty panel only then.
    empty: str = ""

    @property
    def text(self) -> str:
        """The description Grafana shows, the reason for an empty panel included."""
        reason = f"No data {self.empty}." if self.empty else ""
        return " ".join(part for part in (self.description, reason) if part)


@dataclass(frozen=True)
class Dashboard:
    stem: str  # file name and uid
    title: str
    rows: tuple[tuple[Panel, ...], ...]
    tags: tuple[str, ...] = ("dbsbm",)


def _panel(panel: Panel, panel_id: int, x: int, y: int, width: int) -> dict[str, Any]:
    steps = [{"color": panel.base, "value": None}] + [
        {"color": colour, "value": value} for value, colour in panel.steps
    ]
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {"mode": "absolute", "steps": steps},
        "mappings": list(panel.mappings),
    }
    if panel.kind == "timeseries":
        defaults["custom"] = {"thresholdsStyle": {"mode": "line" if panel.steps else "off"}}
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.text,
        "datasource": _PROMETHEUS,
        "gridPos": {"x": x, "y": y, "w": width, "h": _HEIGHT[panel.kind]},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": _PROMETHEUS,
                "expr": q.expr,
                "legendFormat": q.legend,
                "exemplar": q.exemplar,
            }
            for i, q in enumerate(panel.queries)
        ],
    }
    if panel.kind == "stat":
        body["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "area",
            "textMode": "auto",
        }
    else:
        body["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "multi"},
        }
    return body


def _numbered(dashboard: Dashboard) -> list[tuple[int, Panel]]:
    """Panels with the ids Grafana knows them by: 1, 2, ... row by row."""
    panels = [panel for row in dashboard.rows for panel in row]
    return list(enumerate(panels, start=1))


def render(dashboard: Dashboard) -> dict[str, Any]:
    panels, y, ids = [], 0, iter(_numbered(dashboard))
    for row in dashboard.rows:
        width = 24 // len(row)
        for i, _ in enumerate(row):
            panel_id, panel = next(ids)
            panels.append(_panel(panel, panel_id, i * width, y, width))
        y += max(_HEIGHT[p.kind] for p in row)
    return {
        "uid": c.dashboard_uid(dashboard.stem),
        "title": dashboard.title,
        "tags": list(dashboard.tags),
        "timezone": "utc",
        "editable": False,
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [{"title": "Runbook", "type": "link", "url": c.RUNBOOK_PAGE}],
        "panels": panels,
    }


# --- shared queries --------------------------------------------------------------------------
def _quantiles(instrument: semconv.Instrument, labels: tuple[str, ...]) -> tuple[Query, ...]:
    legend = c.legend(*labels)
    return tuple(
        Query(
            c.histogram_quantile(q, instrument, labels),
            f"{c.percentile(q)} {legend}".strip(),
            exemplar=True,
        )
        for q in c.DASHBOARD_QUANTILES
    )


def _below(seconds: float) -> str:
    return f"Target below {c.seconds_text(seconds)}."


def _target_line(limit: float) -> tuple[tuple[float, str], ...]:
    return ((limit, "red"),)


_API_P95 = c.histogram_quantile(c.QUANTILE, semconv.HTTP_CLIENT_DURATION, ())
_API_P95_BY_SERVER = c.histogram_quantile(c.QUANTILE, semconv.HTTP_CLIENT_DURATION, (c.SERVER,))
_CPU_IDLE = c.selector(semconv.SYSTEM_CPU_UTILIZATION, **{c.HOST_STATE: c.IDLE})
_DB_P95 = c.histogram_quantile(c.QUANTILE, semconv.DB_OPERATION_DURATION, ())
_HIT_RATIO = c.cache_hit_ratio(())
_ERROR_RATIO = c.error_ratio(c.WINDOW, ())
_P = c.percentile(c.QUANTILE)
_UP_DOWN = (
    {
        "type": "value",
        "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "UP", "color": "green"}},
    },
)


def _per_signal(prefix: str, by: str, what: str = "") -> Query:
    """Items per second of a collector counter family, per ``by`` and signal."""
    legend = f"{what} {c.legend(by, c.SIGNAL)}".strip()
    return Query(f"sum {c.by(by, c.SIGNAL)} ({c.per_signal_rate(prefix)})", legend)


def _or_zero(expr: str, base: str) -> str:
    """``expr``, and 0 for each series of ``base`` it has no match for.

    Counters of failures have no series before the first failure; drawn at 0 for each
    command, server or exporter that works, the panel answers "is anything failing?"
    instead of showing "No data", which could also mean nothing is measured.
    """
    return f"{expr} or 0 * {base}"


def _failures(prefix: str, what: str) -> Query:
    """An exporter failure counter per exporter and signal, 0 while it has no series yet."""
    sent = _per_signal(c.COLLECTOR_SENT, c.EXPORTER).expr
    return Query(
        _or_zero(_per_signal(prefix, c.EXPORTER).expr, sent),
        f"{what} {c.legend(c.EXPORTER, c.SIGNAL)}",
    )


_PROBES = Panel(
    "stat",
    "Probe status",
    (Query(f"min {c.by(c.PROBE)} ({semconv.PROBE_SUCCESS.prometheus})", c.legend(c.PROBE)),),
    steps=((1, "green"),),
    base="red",
    mappings=_UP_DOWN,
    description="1 when the agent's probe passed (warn counts as passed).",
)

DASHBOARDS: tuple[Dashboard, ...] = (
    Dashboard(
        "overview",
        "DBSBM / Overview",
        (
            (
                Panel(
                    "stat",
                    "Cache hit ratio",
                    (Query(_HIT_RATIO, "hit ratio"),),
                    unit="percentunit",
                    base="red",
                    steps=((slo.CACHE_HIT_RATIO_MIN, "green"),),
                    description=f"Target above {c.percent_text(slo.CACHE_HIT_RATIO_MIN)}.",
                ),
                Panel(
                    "stat",
                    f"External API {_P}",
                    (Query(_API_P95, _P),),
                    unit="s",
                    steps=_target_line(slo.API_LATENCY_P95_MAX_SECONDS),
                    description=_below(slo.API_LATENCY_P95_MAX_SECONDS),
                ),
                Panel(
                    "stat",
                    f"Database {_P}",
                    (Query(_DB_P95, _P),),
                    unit="s",
                    steps=_target_line(slo.DB_QUERY_P95_MAX_SECONDS),
                    description=_below(slo.DB_QUERY_P95_MAX_SECONDS),
                ),
                Panel(
                    "stat",
                    "Command error ratio",
                    (Query(_ERROR_RATIO, "error ratio"),),
                    unit="percentunit",
                    steps=_target_line(slo.ERROR_RATIO_MAX),
                    description=f"Target below {c.percent_text(slo.ERROR_RATIO_MAX)}.",
                ),
            ),
            (
                Panel(
                    "timeseries",
                    "Cache hit ratio",
                    (Query(_HIT_RATIO, "hit ratio"),),
                    unit="percentunit",
                    base="red",
                    steps=((slo.CACHE_HIT_RATIO_MIN, "green"),),
                ),
                Panel(
                    "timeseries",
                    f"External API {_P} by server",
                    (Query(_API_P95_BY_SERVER, c.legend(c.SERVER), exemplar=True),),
                    unit="s",
                    steps=_target_line(slo.API_LATENCY_P95_MAX_SECONDS),
                ),
            ),
            (
                Panel(
                    "timeseries",
                    f"Database {_P}",
                    (Query(_DB_P95, _P, exemplar=True),),
                    unit="s",
                    steps=_target_line(slo.DB_QUERY_P95_MAX_SECONDS),
                ),
                Panel(
                    "timeseries",
                    "Command error ratio",
                    (Query(_ERROR_RATIO, "error ratio"),),
                    unit="percentunit",
                    steps=_target_line(slo.ERROR_RATIO_MAX),
                ),
            ),
            (_PROBES,),
        ),
    ),
    Dashboard(
        "commands",
        "DBSBM / Commands",
        (
            (
                Panel(
                    "timeseries",
                    "Commands per second by command",
                    (
                        Query(
                            c.sum_rate(
                                semconv.DISCORD_COMMAND_DURATION,
                                (c.COMMAND, c.COMMAND_TYPE),
                                suffix="_count",
                            ),
                            c.legend(c.COMMAND, c.COMMAND_TYPE),
                        ),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "timeseries",
                    "Command errors per second by command and error",
                    (
                        Query(
                            _or_zero(
                                c.sum_rate(semconv.DISCORD_COMMAND_ERRORS, (c.COMMAND, c.ERROR)),
                                c.sum_rate(
                                    semconv.DISCORD_COMMAND_DURATION, (c.COMMAND,), suffix="_count"
                                ),
                            ),
                            c.legend(c.COMMAND, c.ERROR),
                        ),
                    ),
                    unit="reqps",
                    description="Each command that ran is drawn at 0 until its first error.",
                ),
            ),
            (
                Panel(
                    "timeseries",
                    "Command duration by command",
                    _quantiles(semconv.DISCORD_COMMAND_DURATION, (c.COMMAND,)),
                    unit="s",
                ),
                Panel(
                    "timeseries",
                    "Interaction latency (creation to dispatch)",
                    _quantiles(semconv.DISCORD_INTERACTION_LATENCY, ()),
                    unit="s",
                ),
            ),
            (
                Panel(
                    "timeseries",
                    "Gateway latency",
                    (Query(semconv.DISCORD_GATEWAY_LATENCY.prometheus, c.legend(c.INSTANCE)),),
                    unit="s",
                    empty="while the bot has no gateway connection (the demo bot dispatches "
                    "its events offline)",
                ),
                Panel(
                    "stat",
                    "Guilds",
                    (Query(f"sum({semconv.DISCORD_GUILDS.prometheus})", "guilds"),),
                ),
                Panel(
                    "stat",
                    "Connected shards",
                    (Query(f"sum({semconv.DISCORD_SHARD_CONNECTED.prometheus})", "shards"),),
                ),
            ),
        ),
    ),
    Dashboard(
        "database-cache",
        "DBSBM / Database & cache",
        (
            (
                Panel(
                    "timeseries",
                    "Database operation duration by operation",
                    _quantiles(semconv.DB_OPERATION_DURATION, (c.DB_OPERATION,)),
                    unit="s",
                    steps=_target_line(slo.DB_QUERY_P95_MAX_SECONDS),
                ),
                Panel(
                    "timeseries",
                    "Connection pool",
                    (
                        Query(
                            f"sum {c.by(c.DB_POOL, c.DB_CONNECTION_STATE)} "
                            f"({semconv.DB_CONNECTION_COUNT.prometheus})",
                            c.legend(c.DB_POOL, c.DB_CONNECTION_STATE),
                        ),
                        Query(
                            f"sum {c.by(c.DB_POOL)} ({semconv.DB_CONNECTION_MAX.prometheus})",
                            f"{c.legend(c.DB_POOL)} max",
                        ),
                    ),
                ),
            ),
            (
                Panel(
                    "timeseries",
                    "Cache operations by tier and result",
                    (
                        Query(
                            c.sum_rate(semconv.CACHE_OPERATIONS, (c.CACHE_TIER, c.CACHE_RESULT)),
                            c.legend(c.CACHE_TIER, c.CACHE_RESULT),
                        ),
                    ),
                    unit="ops",
                ),
                Panel(
                    "timeseries",
                    "Cache hit ratio",
                    (Query(_HIT_RATIO, "hit ratio"),),
                    unit="percentunit",
                    base="red",
                    steps=((slo.CACHE_HIT_RATIO_MIN, "green"),),
                ),
            ),
            (
                Panel(
                    "timeseries",
                    "Local fallback active",
                    (Query(semconv.CACHE_FALLBACK_ACTIVE.prometheus, c.legend(c.INSTANCE)),),
                    steps=((1, "orange"),),
                ),
                Panel(
                    "timeseries",
                    "Circuit-breaker state",
                    (
                        Query(
                            f"max {c.by(c.BREAKER)} ({semconv.BREAKER_STATE_GAUGE.prometheus})",
                            c.legend(c.BREAKER),
                        ),
                    ),
                    steps=(
                        (semconv.BREAKER_STATE_VALUES["half_open"], "orange"),
                        (semconv.BREAKER_STATE_VALUES["open"], "red"),
                    ),
                    mappings=(
                        {
                            "type": "value",
                            "options": {
                                str(v): {"text": k} for k, v in semconv.BREAKER_STATE_VALUES.items()
                            },
                        },
                    ),
                ),
                Panel(
                    "timeseries",
                    "Retries by operation and error",
                    (
                        Query(
                            c.sum_rate(semconv.RETRY_ATTEMPTS, (c.RETRY_OPERATION, c.ERROR)),
                            c.legend(c.RETRY_OPERATION, c.ERROR),
                        ),
                    ),
                    unit="ops",
                    empty="until the first retry: an operation's retry counter appears with it",
                ),
            ),
        ),
    ),
    Dashboard(
        "external-apis",
        "DBSBM / External APIs",
        (
            (
                Panel(
                    "timeseries",
                    "Request duration by server",
                    _quantiles(semconv.HTTP_CLIENT_DURATION, (c.SERVER,)),
                    unit="s",
                    steps=_target_line(slo.API_LATENCY_P95_MAX_SECONDS),
                ),
                Panel(
                    "timeseries",
                    "Requests per second by server and status",
                    (
                        Query(
                            c.sum_rate(
                                semconv.HTTP_CLIENT_DURATION,
                                (c.SERVER, c.HTTP_STATUS),
                                suffix="_count",
                            ),
                            c.legend(c.SERVER, c.HTTP_STATUS),
                        ),
                    ),
                    unit="reqps",
                ),
            ),
            (
                Panel(
                    "timeseries",
                    f"HTTP 429 answers per {c.WINDOW} by server",
                    (
                        Query(
                            _or_zero(
                                c.counted_increase(semconv.API_RATE_LIMITED, (c.SERVER,)),
                                c.sum_rate(
                                    semconv.HTTP_CLIENT_DURATION, (c.SERVER,), suffix="_count"
                                ),
                            ),
                            c.legend(c.SERVER),
                        ),
                    ),
                    steps=((c.RATE_LIMITED_RESPONSES_MAX + 1, "red"),),
                    description="Each server the bot called is drawn at 0 until its first 429.",
                ),
            ),
        ),
    ),
    Dashboard(
        "health-host",
        "DBSBM / Health & host",
        (
            (
                _PROBES,
                Panel(
                    "timeseries",
                    "Probe success by probe",
                    (
                        Query(
                            f"min {c.by(c.PROBE)} ({semconv.PROBE_SUCCESS.prometheus})",
                            c.legend(c.PROBE),
                        ),
                    ),
                    mappings=_UP_DOWN,
                ),
                Panel(
                    "timeseries",
                    "Probe duration by probe",
                    (
                        Query(
                            f"max {c.by(c.PROBE)} ({semconv.PROBE_DURATION.prometheus})",
                            c.legend(c.PROBE),
                        ),
                    ),
                    unit="s",
                    steps=_target_line(agent_config.PROBE_TIMEOUT_SECONDS),
                ),
            ),
            (
                Panel(
                    "timeseries",
                    "Host CPU busy",
                    (Query(f"1 - avg {c.by(c.HOST_NAME)} ({_CPU_IDLE})", c.legend(c.HOST_NAME)),),
                    unit="percentunit",
                    steps=(
                        (agent_config.RESOURCE_WARN_RATIO, "orange"),
                        (agent_config.RESOURCE_FAIL_RATIO, "red"),
                    ),
                ),
                Panel(
                    "timeseries",
                    "Host memory used",
                    (
                        Query(
                            c.selector(semconv.SYSTEM_MEMORY_UTILIZATION, **{c.HOST_STATE: c.USED}),
                            c.legend(c.HOST_NAME),
                        ),
                    ),
                    unit="percentunit",
                    steps=(
                        (agent_config.RESOURCE_WARN_RATIO, "orange"),
                        (agent_config.RESOURCE_FAIL_RATIO, "red"),
                    ),
                ),
                Panel(
                    "timeseries",
                    "Host disk used by mountpoint",
                    (
                        Query(
                            semconv.SYSTEM_FILESYSTEM_UTILIZATION.prometheus,
                            c.legend(c.HOST_NAME, c.MOUNTPOINT),
                        ),
                    ),
                    unit="percentunit",
                    steps=(
                        (agent_config.RESOURCE_WARN_RATIO, "orange"),
                        (agent_config.RESOURCE_FAIL_RATIO, "red"),
                    ),
                ),
            ),
            (
                Panel(
                    "timeseries",
                    "Bot process CPU",
                    (
                        Query(
                            f"sum {c.by(c.JOB, c.INSTANCE)} ({c.rate(semconv.PROCESS_CPU_TIME)})",
                            c.legend(c.JOB, c.INSTANCE),
                        ),
                    ),
                    unit="percentunit",
                    description="CPU seconds per second: 1 is one core.",
                ),
                Panel(
                    "timeseries",
                    "Bot process memory",
                    (Query(semconv.PROCESS_MEMORY_USAGE.prometheus, c.legend(c.JOB, c.INSTANCE)),),
                    unit="bytes",
                ),
            ),
        ),
    ),
    Dashboard(
        "pipeline",
        "DBSBM / Pipeline",
        (
            (
                Panel(
                    "stat",
                    "Scrape targets up",
                    (Query(c.UP, c.legend(c.JOB, c.INSTANCE)),),
                    steps=((1, "green"),),
                    base="red",
                    mappings=_UP_DOWN,
                    description="Targets Prometheus scrapes itself: itself and the collector's "
                    "own metrics. Everything else arrives by remote write.",
                ),
                Panel(
                    "timeseries",
                    "Telemetry senders",
                    (Query(f"count {c.by(c.JOB)} ({c.SENDERS})", c.legend(c.JOB)),),
                    description="Resources per job that sent in the last 5 minutes "
                    "(target_info): a job that drops out has stopped sending.",
                ),
            ),
            (
                Panel(
                    "timeseries",
                    "Accepted by receiver",
                    (_per_signal(c.COLLECTOR_ACCEPTED, c.RECEIVER),),
                    unit="cps",
                    description="Items per second (spans, metric points, log records) the "
                    "collector's receivers took in.",
                ),
                Panel(
                    "timeseries",
                    "Refused by receiver",
                    (
                        _per_signal(c.COLLECTOR_REFUSED, c.RECEIVER, "refused"),
                        _per_signal(c.COLLECTOR_RECEIVE_FAILED, c.RECEIVER, "failed"),
                    ),
                    unit="cps",
                    description="Refused: the pipeline pushed back (memory limiter), senders "
                    "retry and then drop. Failed: the receiver could not take the data in.",
                ),
            ),
            (
                Panel(
                    "timeseries",
                    "Sent by exporter",
                    (_per_signal(c.COLLECTOR_SENT, c.EXPORTER),),
                    unit="cps",
                    description="Items per second the exporters delivered to their backends.",
                ),
                Panel(
                    "timeseries",
                    "Dropped by exporter",
                    (
                        _failures(c.COLLECTOR_SEND_FAILED, "send failed"),
                        _failures(c.COLLECTOR_ENQUEUE_FAILED, "queue full"),
                    ),
                    unit="cps",
                    steps=((0, "red"),),
                    description="Items lost: given up after the exporter's retries (send "
                    "failed) or turned away by its full queue. The collector creates these "
                    "counters at their first failure, so each exporter is drawn at 0 until then.",
                ),
            ),
            (
                Panel(
                    "timeseries",
                    "Exporter queue fill",
                    (
                        Query(
                            f"max {c.by(c.EXPORTER, c.DATA_TYPE)} "
                            f"({c.COLLECTOR_QUEUE_SIZE} / {c.COLLECTOR_QUEUE_CAPACITY})",
                            c.legend(c.EXPORTER, c.DATA_TYPE),
                        ),
                    ),
                    unit="percentunit",
                    steps=((c.COLLECTOR_QUEUE_RATIO_MAX, "red"),),
                    description="Batches waiting to be sent over the queue's capacity; a full "
                    "queue drops what comes next.",
                ),
                Panel(
                    "timeseries",
                    "Rule evaluation failures",
                    (
                        Query(
                            f"sum {c.by(c.RULE_GROUP)} "
                            f"(rate({c.RULE_EVALUATION_FAILURES}[{c.WINDOW}]))",
                            c.legend(c.RULE_GROUP),
                        ),
                    ),
                    unit="cps",
                    steps=((0, "red"),),
                    description="Failed evaluations per second of each recording and alerting "
                    "rule group: a failing group's alerts cannot fire.",
                ),
            ),
        ),
    ),
)


def panel_id(stem: str, title: str) -> int:
    """The id of the one panel titled ``title`` on dashboard ``stem``: alerts link to it."""
    [dashboard] = [d for d in DASHBOARDS if d.stem == stem]
    ids = [i for i, panel in _numbered(dashboard) if panel.title == title]
    if len(ids) != 1:
        raise ValueError(f"dashboard {stem} has {len(ids)} panels titled {title!r}, not one")
    return ids[0]


PROVISIONING = Path("deploy/grafana/provisioning/dashboards")


def files() -> dict[Path, str]:
    """The file provider and one JSON file per dashboard."""
    dashboards = {PROVISIONING / DASHBOARDS_DIR / n: t for n, t in dashboard_files().items()}
    return {PROVISIONING / "dbsbm.yaml": provider(), **dashboards}


def dashboard_files() -> dict[str, str]:
    """``{"overview.json": text, ...}``."""
    return {
        f"{d.stem}.json": json.dumps(render(d), indent=2, sort_keys=False) + "\n"
        for d in DASHBOARDS
    }


def provider() -> str:
    document = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "dbsbm",
                "orgId": c.GRAFANA_ORG_ID,
                "folder": c.GRAFANA_FOLDER,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {
                    "path": f"{CONTAINER_PROVISIONING}/dashboards/{DASHBOARDS_DIR}",
                    "foldersFromFilesStructure": False,
                },
            }
        ],
    }
    header = "# Generated by deploy/mixin/generate.py. Do not edit.\n"
    return header + yaml_text(document)
