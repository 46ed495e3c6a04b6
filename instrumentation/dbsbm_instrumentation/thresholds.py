"""Every threshold, target and window the stack enforces: the one place they are set.

Like kubernetes-mixin's ``_config``: the Prometheus rules, the Grafana alert rules, the
dashboards' threshold lines, the agent's defaults and the docs are generated from or
read these values (``deploy/mixin``), and a test fails when a generated file is stale.
Change a number here, run ``python deploy/mixin/generate.py``, commit both.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- the seed's performance targets (../shared/seed, "Performance Validation") --------
CACHE_HIT_RATIO_MIN = 0.90  # "Cache hit rate should be > 90%"
API_LATENCY_P95_MAX_SECONDS = 0.200  # "API response time should be < 200ms"
DB_QUERY_P95_MAX_SECONDS = 0.100  # "Database query time should be < 100ms"
ERROR_RATIO_MAX = 0.001  # "Error rate should be < 0.1%"  -> SLO objective 99.9 %

# --- host resources (seed task 3.4: > 80 % degraded, > 90 % unhealthy) ------------------
RESOURCE_WARN_RATIO = 0.80
RESOURCE_FAIL_RATIO = 0.90

# --- health-check schedule the bot meant to run (reference/dbsbm.md), seconds -----------
PROBE_INTERVAL_SECONDS = {
    "mysql": 30.0,
    "redis": 30.0,
    "http": 60.0,
    "discord": 30.0,
    "host": 60.0,
}
PROBE_TIMEOUT_SECONDS = 5.0

# --- alert timing --------------------------------------------------------------------
LATENCY_ALERT_FOR = "10m"  # p95 above target for this long
CACHE_HIT_ALERT_FOR = "15m"
PROBE_FAILING_FOR = "2m"  # about four 30 s probe intervals
BREAKER_OPEN_FOR = "1m"
CACHE_FALLBACK_FOR = "5m"
RATE_LIMITED_FOR = "5m"
HOST_RESOURCE_FOR = "10m"
ALERT_EVALUATION_INTERVAL = "1m"  # Prometheus rule groups and Grafana alert groups
RATE_WINDOW = "5m"  # rate()/increase() window of the latency, cache and 429 rules
LATENCY_QUANTILE = 0.95  # the seed's latency targets are p95
DASHBOARD_QUANTILES = (0.50, 0.95)  # latency panels draw these
RATE_LIMITED_RESPONSES_MAX = 0  # 429s tolerated per RATE_WINDOW before alerting


@dataclass(frozen=True)
class BurnRateWindow:
    """One multi-window burn-rate pair (Google SRE workbook, as sloth and pyrra do it)."""

    long: str
    short: str
    factor: float
    severity: str  # "critical" pages, "warning" opens a ticket
    for_: str


ERROR_BUDGET_WINDOWS = (
    BurnRateWindow(long="1h", short="5m", factor=14.4, severity="critical", for_="2m"),
    BurnRateWindow(long="6h", short="30m", factor=6.0, severity="critical", for_="15m"),
    BurnRateWindow(long="1d", short="2h", factor=3.0, severity="warning", for_="1h"),
    BurnRateWindow(long="3d", short="6h", factor=1.0, severity="warning", for_="3h"),
)

# --- where alerts link to ---------------------------------------------------------------
RUNBOOK_URL_PATTERN = (
    "https://github.com/dbsbm/dbsbm-observability/blob/main/docs/runbook.md#alert-name-{name}"
)

# --- resilience and cache defaults (issue 3; resilience.py, cache.py) -------------------
BREAKER_FAILURE_THRESHOLD = 5  # seed: "Circuit breaker: 5 failures, 60 s recovery"
BREAKER_RESET_TIMEOUT_SECONDS = 60.0
# Redis sits on loopback or the compose network: an answer takes < 1 ms, so a quarter
# second means "down or hung". The worst a caller waits is about connect + socket timeout.
CACHE_CONNECT_TIMEOUT_SECONDS = 0.25
CACHE_SOCKET_TIMEOUT_SECONDS = 0.25
# Open-breaker period before probing Redis again: starts here, doubles per failed probe
# (with jitter) up to the max, which is therefore the recovery bound once Redis is back.
CACHE_RECONNECT_MIN_SECONDS = 1.0
CACHE_RECONNECT_MAX_SECONDS = 30.0
CACHE_LOCAL_MAX_ENTRIES = 10_000
CACHE_LOCAL_MAX_TTL_SECONDS = 60.0  # bounds how stale a local-tier entry can be
CACHE_MAX_PENDING_INVALIDATIONS = 10_000  # beyond this, whole prefixes are flushed

# --- security audit (seed task 2.3; agent/dbsbm_audit) --------------------------------
PASSWORD_MIN_LENGTH = 8  # "passwords shorter than 8 characters flagged"
AUDIT_FAIL_ON_DEFAULT = "high"  # dbsbm-audit exits 1 on findings at or above this severity
