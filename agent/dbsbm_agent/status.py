"""``dbsbm-status [--prometheus URL]``: the SLOs, the error budget and the alerts, at a glance.

Reads Prometheus' HTTP API and prints each service-level target's current value against
its threshold (the targets of :mod:`dbsbm_instrumentation.slo`), the command error budget
left, and every alert pending or firing, so the light stack reads without Grafana.

The values are the recording rules the mixin (``deploy/mixin``) generates, queried by
name: the command shows exactly what the alerts compare, and a test checks that every
series it asks for is a ``record:`` in ``deploy/prometheus/rules``. The error budget is
over 3 days, the longest window the mixin records (its slowest burn-rate alert's); a
30-day budget would need a recording rule of its own.

An unreachable Prometheus or a bad URL ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import math
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from dbsbm_instrumentation import slo

from .cli import _Parser

PROG = "dbsbm-status"
DEFAULT_PROMETHEUS = "http://127.0.0.1:9090"
TIMEOUT_SECONDS = 5.0

Unit = Literal["seconds", "ratio"]


@dataclass(frozen=True)
class Target:
    """One SLO: the recording rule holding its SLI, and the threshold it must keep."""

    title: str
    series: str
    threshold: float
    kind: Literal["max", "min"]  # the SLI must stay below a max, above a min
    unit: Unit

    def met(self, value: float) -> bool:
        return value <= self.threshold if self.kind == "max" else value >= self.threshold


TARGETS = (
    Target(
        "command error ratio",
        "job:dbsbm_discord_command_errors:ratio_rate5m",
        slo.ERROR_RATIO_MAX,
        "max",
        "ratio",
    ),
    Target(
        "database p95",
        "job:db_client_operation_duration_seconds:p95_rate5m",
        slo.DB_QUERY_P95_MAX_SECONDS,
        "max",
        "seconds",
    ),
    Target(
        "external API p95",
        "server_address:http_client_request_duration_seconds:p95_rate5m",
        slo.API_LATENCY_P95_MAX_SECONDS,
        "max",
        "seconds",
    ),
    Target(
        "cache hit ratio",
        "job:dbsbm_cache_operations:hit_ratio_rate5m",
        slo.CACHE_HIT_RATIO_MIN,
        "min",
        "ratio",
    ),
)
BUDGET_WINDOW = "3d"
BUDGET_SERIES = f"job:dbsbm_discord_command_errors:ratio_rate{BUDGET_WINDOW}"
# Every series this command reads; each must be a recording rule the mixin generates.
SERIES = (*(target.series for target in TARGETS), BUDGET_SERIES)

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


class PrometheusError(Exception):
    """Prometheus could not be asked, or did not answer as its API documents."""


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float


class Prometheus:
    """The two endpoints of Prometheus' HTTP API this command reads."""

    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PrometheusError(f"--prometheus {url!r} is not an http(s) URL with a host")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        url = f"{self.url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            raise PrometheusError(f"{url} answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {exc.reason}") from None
        except (OSError, ValueError) as exc:  # timeouts, resets, a body that is not JSON
            raise PrometheusError(f"cannot read {url}: {exc}") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            raise PrometheusError(f"{url} did not answer as Prometheus' API does")
        return body.get("data")

    def query(self, promql: str) -> list[Sample]:
        """An instant query's vector (a series name returns every series of that name)."""
        data = self._get("/api/v1/query", {"query": promql})
        try:
            return [
                Sample(
                    {k: v for k, v in item["metric"].items() if k != "__name__"},
                    float(item["value"][1]),
                )
                for item in data["result"]
            ]
        except (KeyError, IndexError, TypeError, ValueError):
            raise PrometheusError(f"unexpected answer to the query {promql!r}") from None

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts pending or firing, as ``/api/v1/alerts`` lists them."""
        data = self._get("/api/v1/alerts")
        try:
            return list(data["alerts"])
        except (KeyError, TypeError):
            raise PrometheusError("unexpected answer from /api/v1/alerts") from None


def format_value(value: float, unit: Unit) -> str:
    if math.isnan(value):
        return "no traffic"  # a ratio or quantile over no events
    if unit == "seconds":
        return f"{value * 1000:.3g} ms" if value < 1 else f"{value:.3g} s"
    return f"{value * 100:.3g} %"


def _labels(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"


def target_lines(target: Target, samples: Sequence[Sample]) -> list[str]:
    limit = (
        f"{'<=' if target.kind == 'max' else '>='} {format_value(target.threshold, target.unit)}"
    )
    if not samples:
        return [f"  {target.title:<20} {'-':<32} {'no data':>12}  {limit:<10}  -"]
    lines = []
    for sample in sorted(samples, key=lambda s: _labels(s.labels)):
        if math.isnan(sample.value):
            verdict = "-"
        else:
            verdict = "ok" if target.met(sample.value) else "BREACHED"
        value = format_value(sample.value, target.unit)
        lines.append(
            f"  {target.title:<20} {_labels(sample.labels):<32} {value:>12}  {limit:<10}  {verdict}"
        )
    return lines


def budget_lines(samples: Sequence[Sample]) -> list[str]:
    """The share of the error budget left: 1 - (error ratio / allowed error ratio)."""
    header = (
        f"Error budget left (command errors, {BUDGET_WINDOW} window, "
        f"allowed {format_value(slo.ERROR_RATIO_MAX, 'ratio')}):"
    )
    if not samples:
        return [header, "  no data"]
    lines = [header]
    for sample in sorted(samples, key=lambda s: _labels(s.labels)):
        if math.isnan(sample.value):
            left = "no commands"
        else:
            spent = sample.value / slo.ERROR_RATIO_MAX
            left = (
                f"{(1 - spent) * 100:.1f} %"
                if spent <= 1
                else f"none: errors at {spent:.3g}x the allowed rate"
            )
        lines.append(f"  {_labels(sample.labels):<32} {left}")
    return lines


def _since(active_at: str, now: datetime) -> str:
    try:
        start = datetime.fromisoformat(active_at.replace("Z", "+00:00"))
    except ValueError:
        return active_at
    minutes = max(int((now - start).total_seconds() // 60), 0)
    return f"since {start.strftime('%H:%M:%S')}Z ({minutes} min)"


def alert_lines(alerts: Sequence[Mapping[str, Any]], now: datetime) -> list[str]:
    if not alerts:
        return ["Alerts: none pending or firing"]

    def order(alert: Mapping[str, Any]) -> tuple[int, int, str]:
        labels = alert.get("labels", {})
        return (
            0 if alert.get("state") == "firing" else 1,
            _SEVERITY_ORDER.get(labels.get("severity", ""), 3),
            labels.get("alertname", ""),
        )

    lines = ["Alerts:"]
    for alert in sorted(alerts, key=order):
        labels = dict(alert.get("labels", {}))
        name = labels.pop("alertname", "?")
        severity = labels.pop("severity", "-")
        summary = alert.get("annotations", {}).get("summary", "")
        lines.append(
            f"  {alert.get('state', '?'):<8} {severity:<9} {name} {{{_labels(labels)}}} "
            f"{_since(str(alert.get('activeAt', '')), now)}" + (f": {summary}" if summary else "")
        )
    return lines


def report(prometheus: Prometheus, now: datetime | None = None) -> str:
    """The whole status text; raises :class:`PrometheusError` if Prometheus fails."""
    lines = [
        f"Prometheus {prometheus.url}",
        "",
        f"  {'SLO':<20} {'series':<32} {'now':>12}  {'target':<10}  status",
    ]
    for target in TARGETS:
        lines += target_lines(target, prometheus.query(target.series))
    lines += ["", *budget_lines(prometheus.query(BUDGET_SERIES))]
    lines += ["", *alert_lines(prometheus.alerts(), now or datetime.now(UTC))]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog=PROG, description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--prometheus",
        default=DEFAULT_PROMETHEUS,
        metavar="URL",
        help=f"Prometheus' base URL (default {DEFAULT_PROMETHEUS})",
    )
    args = parser.parse_args(argv)
    try:
        text = report(Prometheus(args.prometheus))
    except PrometheusError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
