"""End to end: every alert goes from a real fault to firing, and back, in a real Prometheus.

The stack is the demo's own (``examples.demo_bot.launch.Demo``), with the mixin's rules
time-compressed by :data:`FACTOR` (``generate.py --time-factor``: every ``for``, window and
evaluation interval divided by it) and every interval that feeds them divided with it: the
apps' metric export, Prometheus' scrape interval and lookback, the collector's batch,
span-metrics and host-metrics intervals and its retry budget, the agent's probe intervals.

A healthy baseline comes first: no rule may go pending or fire. Then the faults, in groups
that do not disturb each other, each run concurrently: the demo's own faults
(``POST /faults``, ``/redis/pause``), a SIGSTOPped MariaDB or agent, a killed file sink or
collector, a broken rule file. What cannot be broken here (the host's memory, disk and CPU,
the collector refusing data, one silent probe of a live agent) is driven through a
stand-in scrape target serving the same series. Every expected alert must be seen
inactive, then pending, then firing; once the fault is removed, resolved.

The figures (time from fault to firing and from recovery to resolved, compressed and at
real durations) are written to ``alerts-live.txt`` in the test's folder and printed at
the end of the run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from dbsbm_instrumentation import semconv
from dbsbm_mixin import config as c
from dbsbm_mixin import prometheus as mixin_prometheus
from dbsbm_mixin.alerts import ALERTS
from devstack.process import LOOPBACK, Process
from tests.e2e.test_dashboards import ScrapedDemo
from tests.exposition import serve_metrics

pytestmark = pytest.mark.e2e

FACTOR = 30  # every duration of the rules and of what feeds them, divided by this
RATE = 6.0  # demo commands per second
POLL_SECONDS = 0.25  # how often the alerts are read
SETTLE_SECONDS = 90  # start-up until every sender's series and every record exist
BASELINE_SECONDS = 40  # healthy demo watched for flapping: 20 minutes at real durations
FIRE_TIMEOUT = 120.0  # a group's faults until all of its alerts fire
RESOLVE_TIMEOUT = 120.0  # its recovery until all of them resolve
REDIS_PAUSE_SECONDS = 30.0  # CLIENT PAUSE: the Redis group's fault, ending by itself
STANDIN_JOB = "alerts-standin"
STANDIN_HOST = "standin-host"
BOT_JOB = "dbsbm-demo-bot"
AGENT_JOB = "dbsbm-agent"


def compressed(seconds: float) -> str:
    """A real interval divided by :data:`FACTOR`, in milliseconds as Go and the SDK read it."""
    return f"{round(seconds * 1000 / FACTOR)}ms"


# --- the stand-in scrape target ----------------------------------------------------------


class StandIn:
    """Series this machine cannot be made to produce on demand, served for Prometheus.

    Host memory, disk and CPU cannot be exhausted on a shared CI machine; the collector's
    memory limiter cannot be made to refuse without refusing everything; its sending queue
    holds at least a batch's 1 MiB minimum, which the demo's few kilobytes of spans a second
    take many minutes to fill (and past which it drops); the agent reports every probe it
    runs. The series are named and labelled as the collector and the agent write them.
    """

    def __init__(self) -> None:
        self.memory_used = 0.3
        self.disk_used = 0.3
        self.cpu_idle = 0.9
        self.refusing = False  # the collector refusing and dropping, its queue full
        self.refused = 0
        self.probe_reporting = True
        self.lock = threading.Lock()

    def exposition(self) -> str:
        with self.lock:
            if self.refusing:
                self.refused += 10
            host = {c.HOST_NAME: STANDIN_HOST}
            exporter = f'{{{c.EXPORTER}="otlp_grpc/standin"}}'
            queue = f'{{{c.EXPORTER}="otlp_grpc/standin", {c.DATA_TYPE}="traces"}}'
            disk = {
                **host,
                c.DEVICE: "/dev/standin",
                c.MOUNTPOINT: "/standin",
                "mode": "rw",
                "type": "ext4",
            }
            lines = [
                _line(
                    c.selector(semconv.SYSTEM_MEMORY_UTILIZATION, **host, **{c.HOST_STATE: c.USED}),
                    self.memory_used,
                ),
                _line(c.selector(semconv.SYSTEM_FILESYSTEM_UTILIZATION, **disk), self.disk_used),
                _line(
                    c.selector(
                        semconv.SYSTEM_CPU_UTILIZATION,
                        **host,
                        cpu="cpu0",
                        **{c.HOST_STATE: c.IDLE},
                    ),
                    self.cpu_idle,
                ),
                f'{c.COLLECTOR_REFUSED}_spans_total{{{c.RECEIVER}="otlp/standin"}} {self.refused}',
                f"{c.COLLECTOR_ENQUEUE_FAILED}_spans_total{exporter} {self.refused}",
                f"{c.COLLECTOR_QUEUE_SIZE}{queue} {0.95 if self.refusing else 0.01}",
                f"{c.COLLECTOR_QUEUE_CAPACITY}{queue} 1",
            ]
            if self.probe_reporting:
                probe = {c.PROBE: "standin", c.PROBE_KIND: "http"}
                lines.append(_line(c.selector(semconv.PROBE_SUCCESS, **probe), 1))
        return "\n".join(lines) + "\n"


def _line(series: str, value: float) -> str:
    return f"{series} {value:g}"


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[StandIn, int]]:
    state = StandIn()
    server = serve_metrics(state.exposition)
    try:
        yield state, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


# --- the compressed stack -----------------------------------------------------------------


class CompressedDemo(ScrapedDemo):
    """The demo with the compressed rules and every interval feeding them compressed too."""

    def __init__(self, workdir: Path, standin_port: int) -> None:
        super().__init__(workdir, RATE)
        self.rules = workdir / "rules"
        self.rules.mkdir(parents=True, exist_ok=True)
        for path, text in mixin_prometheus.rule_files(time_factor=FACTOR).items():
            (self.rules / path.name).write_text(text)
        self.standin_port = standin_port

    def prometheus_file(self) -> Path:
        path = super().prometheus_file()
        config = yaml.safe_load(path.read_text())
        interval = compressed(15)  # the shipped scrape and evaluation interval
        config["global"].update(scrape_interval=interval, evaluation_interval=interval)
        config["rule_files"] = [str(self.rules / "*.yml")]
        config["scrape_configs"].append(
            {
                "job_name": STANDIN_JOB,
                "static_configs": [{"targets": [f"{LOOPBACK}:{self.standin_port}"]}],
            }
        )
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def prometheus(self) -> Process:
        process = super().prometheus()
        # A remote-written series has no staleness marker: it lingers for the lookback.
        lookback = f"--query.lookback-delta={compressed(300)}"
        return dataclasses.replace(process, argv=[*process.argv, lookback])

    def main_collector_env(self) -> dict[str, str]:
        return {
            **super().main_collector_env(),
            "OTELCOL_BATCH_TIMEOUT": compressed(5),
            "OTELCOL_SPAN_METRICS_FLUSH_INTERVAL": compressed(15),
            "OTELCOL_HOSTMETRICS_INTERVAL": compressed(15),
            "OTELCOL_RETRY_MAX_ELAPSED_TIME": compressed(15 * 60),
        }

    def otel_env(self, service: str) -> dict[str, str]:
        env = super().otel_env(service)
        # The shipped interval is 15 s (deploy/prometheus/prometheus.yml says why).
        env["OTEL_METRIC_EXPORT_INTERVAL"] = str(15_000 // FACTOR)
        return env

    def mysql_env(self, password: str) -> dict[str, str]:
        # A pool opened in full at start: a hung server then holds every connection and
        # callers queue. (One still growing hangs on its next connect, under the pool's
        # lock: DbsbmDatabaseHung sees that, not DbsbmDatabaseSaturated.)
        size = "4"
        return {
            **super().mysql_env(password),
            "MYSQL_POOL_MIN_SIZE": size,
            "MYSQL_POOL_MAX_SIZE": size,
        }

    def agent_config(self) -> dict[str, Any]:
        config = super().agent_config()
        for probe in config["probes"].values():
            probe["interval"] = probe["interval"] / FACTOR
            if "timeout" in probe:
                probe["timeout"] = min(probe["timeout"], probe["interval"])
        return config

    def process(self, name: str) -> Process:
        [found] = [p for p in self.processes if p.name == name]
        return found

    def control(self, path: str, body: Mapping[str, Any] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{self.ports.bot_control}{path}", data=data, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, response.read()


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, standin: tuple[StandIn, int]
) -> Iterator[CompressedDemo]:
    CompressedDemo.require()
    stack = CompressedDemo(tmp_path_factory.mktemp("alerts-live"), standin[1])
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()


# --- watching the alerts ------------------------------------------------------------------


Labels = frozenset[tuple[str, str]]


class Watcher:
    """Reads Prometheus' active alerts every :data:`POLL_SECONDS`; keeps the timeline."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.timeline: list[tuple[float, dict[Labels, str]]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/alerts", timeout=5) as response:
                    alerts = json.load(response)["data"]["alerts"]
                snapshot = {frozenset(a["labels"].items()): a["state"] for a in alerts}
                self.timeline.append((time.monotonic(), snapshot))
            except OSError as exc:
                self.errors.append(str(exc))
            self._stop.wait(POLL_SECONDS)

    def states(self, case: Case, since: float) -> list[tuple[float, str]]:
        """``(time, state)`` of ``case`` from ``since``: ``inactive`` when no instance is."""
        found = []
        for at, snapshot in list(self.timeline):
            if at < since:
                continue
            states = {s for labels, s in snapshot.items() if case.matches(labels)}
            found.append((at, "firing" if "firing" in states else min(states, default="inactive")))
        return found

    def active(self, since: float, until: float) -> dict[Labels, set[str]]:
        seen: dict[Labels, set[str]] = {}
        for at, snapshot in list(self.timeline):
            if since <= at <= until:
                for labels, state in snapshot.items():
                    seen.setdefault(labels, set()).add(state)
        return seen


@dataclass(frozen=True)
class Case:
    """One alert instance a fault must drive: its name and the labels telling it apart."""

    alert: str
    labels: Mapping[str, str] = field(default_factory=dict)
    why: str = ""  # what drives it, for the table

    def matches(self, labels: Labels) -> bool:
        have = dict(labels)
        return have.get("alertname") == self.alert and all(
            have.get(k) == v for k, v in self.labels.items()
        )

    def __str__(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.labels.items())
        return f"{self.alert}{{{extra}}}" if extra else self.alert


@dataclass
class Group:
    """Faults that run together and the alerts they must fire."""

    name: str
    inject: Callable[[CompressedDemo, StandIn], None]
    recover: Callable[[CompressedDemo, StandIn], None]
    cases: tuple[Case, ...]


@dataclass
class Result:
    case: Case
    group: str
    pending_after: float | None = None
    firing_after: float | None = None
    resolved_after: float | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # reported, not failed


# --- the faults ---------------------------------------------------------------------------


def _app_faults(demo: CompressedDemo, standin: StandIn) -> None:
    demo.control(
        "/faults",
        {
            "slow_db": 0.3,
            "slow_db_rate": 0.8,
            "api_latency": 0.4,
            "api_429_rate": 0.3,
            "api_error_rate": 0.6,
            "command_error_rate": 0.1,
            "db_error_rate": 0.2,
            "cold_read_rate": 1.0,
        },
    )
    with standin.lock:
        standin.memory_used, standin.disk_used, standin.cpu_idle = 0.95, 0.95, 0.02


def _app_recover(demo: CompressedDemo, standin: StandIn) -> None:
    demo.control("/faults/reset")
    with standin.lock:
        standin.memory_used, standin.disk_used, standin.cpu_idle = 0.3, 0.3, 0.9


def _redis_pause(demo: CompressedDemo, standin: StandIn) -> None:
    # CLIENT PAUSE ends by itself: long enough for the slowest alert of the group to fire.
    demo.control(f"/redis/pause?seconds={REDIS_PAUSE_SECONDS:g}")


def _redis_wait(demo: CompressedDemo, standin: StandIn) -> None:
    """Recovery is the pause running out; it was asked for at injection."""


def _hang_database(demo: CompressedDemo, standin: StandIn) -> None:
    demo.process("mariadb").pause()
    demo.process("agent").pause()
    demo.process("otelcol-sink").kill()
    with standin.lock:
        standin.refusing = True
        standin.probe_reporting = False
    (demo.rules / "broken.yml").write_text(yaml.safe_dump(BROKEN_RULES))
    _reload(demo)


def _resume_database(demo: CompressedDemo, standin: StandIn) -> None:
    demo.process("mariadb").resume()
    demo.process("agent").resume()
    demo.process("otelcol-sink").start()
    with standin.lock:
        standin.refusing = False
        standin.probe_reporting = True
    (demo.rules / "broken.yml").unlink()
    _reload(demo)


# Records one label set three times over (one per scrape target): every evaluation fails.
BROKEN_RULES = {
    "groups": [
        {
            "name": "alerts-live-broken",
            "rules": [
                {
                    "record": "alerts_live:broken",
                    "expr": 'label_replace(label_replace(up, "job", "", "", ""), '
                    '"instance", "", "", "")',
                }
            ],
        }
    ]
}


def _reload(demo: CompressedDemo) -> None:
    pid = demo.process("prometheus").pid
    assert pid is not None
    os.kill(pid, signal.SIGHUP)


def _stall_commands(demo: CompressedDemo, standin: StandIn) -> None:
    demo.control("/faults", {"command_stall": 120})


def _unstall_commands(demo: CompressedDemo, standin: StandIn) -> None:
    demo.control("/faults/reset")


def _kill_collector(demo: CompressedDemo, standin: StandIn) -> None:
    demo.process("otelcol").kill()


def _restart_collector(demo: CompressedDemo, standin: StandIn) -> None:
    demo.process("otelcol").start()


_BOT = {c.JOB: BOT_JOB}
_STANDIN_HOST = {c.HOST_NAME: STANDIN_HOST}
STANDIN_WHY = "stand-in series"

GROUPS = (
    Group(
        "application faults",
        _app_faults,
        _app_recover,
        (
            Case("DbsbmDatabaseLatencyHigh", _BOT, "slow_db, slow_db_rate"),
            Case("DbsbmApiLatencyHigh", {}, "api_latency"),
            Case("DbsbmApiRateLimited", {}, "api_429_rate"),
            Case("DbsbmCacheHitRatioLow", _BOT, "cold_read_rate"),
            Case(
                "DbsbmCommandErrorBudgetBurn",
                {**_BOT, "long_window": "1h"},
                "command_error_rate, db_error_rate, api_error_rate",
            ),
            Case("DbsbmProbeFailing", {c.PROBE: "sports_api"}, "api_error_rate"),
            *(
                Case(name, {**_STANDIN_HOST, "severity": severity}, STANDIN_WHY)
                for name in ("DbsbmHostMemoryHigh", "DbsbmHostDiskHigh", "DbsbmHostCpuSaturated")
                for severity in ("warning", "critical")
            ),
        ),
    ),
    Group(
        "Redis paused",
        _redis_pause,
        _redis_wait,
        (
            Case("DbsbmCacheFallbackActive", _BOT, "/redis/pause"),
            Case("DbsbmCircuitBreakerOpen", _BOT, "/redis/pause"),
            Case("DbsbmProbeFailing", {c.PROBE: "redis"}, "/redis/pause"),
        ),
    ),
    Group(
        "MariaDB and the agent stopped, Tempo/Loki gone",
        _hang_database,
        _resume_database,
        (
            Case("DbsbmDatabaseHung", _BOT, "MariaDB SIGSTOP"),
            Case("DbsbmDatabaseSaturated", _BOT, "MariaDB SIGSTOP"),
            Case("DbsbmTelemetryStopped", {c.JOB: AGENT_JOB}, "agent SIGSTOP"),
            Case(
                "DbsbmCollectorExportFailing", {c.EXPORTER: "otlp_grpc/tempo"}, "file sink killed"
            ),
            Case("DbsbmCollectorDroppingData", {c.JOB: STANDIN_JOB}, STANDIN_WHY),
            Case("DbsbmCollectorQueueNearlyFull", {c.JOB: STANDIN_JOB}, STANDIN_WHY),
            Case("DbsbmCollectorRefusingData", {c.JOB: STANDIN_JOB}, STANDIN_WHY),
            Case("DbsbmAgentNotReporting", {c.PROBE: "standin"}, STANDIN_WHY),
            Case("DbsbmRuleEvaluationFailing", {}, "broken rule file"),
        ),
    ),
    Group(
        "commands stalled",
        _stall_commands,
        _unstall_commands,
        (Case("DbsbmCommandsHung", _BOT, "command_stall"),),
    ),
    Group(
        "collector killed",
        _kill_collector,
        _restart_collector,
        (
            Case("DbsbmTelemetryStopped", {c.JOB: BOT_JOB}, "collector SIGKILL"),
            Case("DbsbmScrapeTargetDown", {c.JOB: "otel-collector"}, "collector SIGKILL"),
        ),
    ),
)


def test_every_alert_has_a_case() -> None:
    """Each alert the mixin defines is driven by at least one group."""
    covered = {case.alert for group in GROUPS for case in group.cases}
    assert covered == {a.name for a in ALERTS}, sorted(covered ^ {a.name for a in ALERTS})


# --- running it ---------------------------------------------------------------------------


def _query(url: str, expr: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=10) as response:
        return list(json.load(response)["data"]["result"])


def _settle(url: str) -> None:
    """Until every sender and every series the alerts read exist (or SETTLE_SECONDS)."""
    needed = [
        f'{c.TARGET_INFO}{{{c.JOB}="{BOT_JOB}"}}',
        f'{c.TARGET_INFO}{{{c.JOB}="{AGENT_JOB}"}}',
        "job:dbsbm_cache_operations:hit_ratio_rate5m",
        "job:db_client_operation_duration_seconds:p95_rate5m",
        "server_address:http_client_request_duration_seconds:p95_rate5m",
        'up{job="otel-collector"} == 1',
        semconv.PROBE_SUCCESS.prometheus,
    ]
    deadline = time.monotonic() + SETTLE_SECONDS
    while missing := [expr for expr in needed if not _query(url, expr)]:
        assert time.monotonic() < deadline, f"never arrived: {missing}"
        time.sleep(1)
    # Then two rate windows, so that no window holds the first seconds of traffic alone.
    time.sleep(2 * 300 / FACTOR)


def _run_group(
    group: Group, demo: CompressedDemo, standin: StandIn, watcher: Watcher
) -> list[Result]:
    results = [Result(case, group.name) for case in group.cases]
    start = time.monotonic()
    time.sleep(POLL_SECONDS * 2)
    for result in results:
        before = watcher.states(result.case, start)
        if before and before[-1][1] != "inactive":
            result.problems.append(f"already {before[-1][1]} before the fault")
        elif not before:
            result.problems.append("alerts not read before the fault")
    injected = time.monotonic()
    group.inject(demo, standin)
    deadline = injected + FIRE_TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(1)
        if all(_first(watcher.states(r.case, injected), "firing") for r in results):
            break
    for result in results:
        states = watcher.states(result.case, injected)
        firing = _first(states, "firing")
        pending = _first(states, "pending")
        if firing is None:
            seen = sorted({s for _, s in states})
            result.problems.append(f"never fired within {FIRE_TIMEOUT:g} s (seen: {seen})")
            continue
        result.firing_after = firing - injected
        if pending is None or pending > firing:
            result.problems.append("fired without being seen pending")
        else:
            result.pending_after = pending - injected
    recovered = time.monotonic()
    group.recover(demo, standin)
    if group.recover is _redis_wait:
        recovered = injected + REDIS_PAUSE_SECONDS
    for result in results:
        states = watcher.states(result.case, injected)
        last = [s for at, s in states if at <= recovered]
        if result.firing_after is not None and last and last[-1] != "firing":
            # Events rare in real time (the demo caches most API answers) are rarer still
            # in a compressed window: the rule may rest between two of them.
            result.notes.append(f"{last[-1]} when the fault was removed")
    deadline = recovered + RESOLVE_TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(1)
        if all(_resolved(watcher.states(r.case, recovered)) for r in results):
            break
    for result in results:
        if result.firing_after is None:
            continue
        at = _resolved(watcher.states(result.case, recovered))
        if at is None:
            result.problems.append(f"not resolved {RESOLVE_TIMEOUT:g} s after recovery")
        else:
            result.resolved_after = max(at - recovered, 0.0)
    return results


def _first(states: list[tuple[float, str]], state: str) -> float | None:
    return next((at for at, s in states if s == state), None)


def _resolved(states: list[tuple[float, str]]) -> float | None:
    """When the case went inactive for good (to the end of what was seen)."""
    if not states or states[-1][1] != "inactive":
        return None
    at = states[-1][0]
    for when, state in reversed(states):
        if state != "inactive":
            break
        at = when
    return at


def _seconds(value: float | None, factor: float = 1) -> str:
    if value is None:
        return "-"
    value *= factor
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def table(results: list[Result], baseline: list[str]) -> str:
    head = (
        f"Alerts live, rules compressed {FACTOR}x (real = compressed x {FACTOR}); "
        f"baseline {BASELINE_SECONDS} s ({BASELINE_SECONDS * FACTOR / 60:g} min real): "
        + ("quiet" if not baseline else "; ".join(baseline))
    )
    rows = [
        (
            "alert",
            "driven by",
            "pending",
            "firing",
            "resolved",
            "firing (real)",
            "resolved (real)",
            "problems",
        )
    ]
    for r in results:
        rows.append(
            (
                str(r.case),
                r.case.why,
                _seconds(r.pending_after),
                _seconds(r.firing_after),
                _seconds(r.resolved_after),
                _seconds(r.firing_after, FACTOR),
                _seconds(r.resolved_after, FACTOR),
                "; ".join(r.problems) or "; ".join(["ok", *r.notes]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [head, ""]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )
    return "\n".join(lines)


def _real_host_alert(labels: Labels) -> bool:
    """An alert about this machine (shared with other jobs), not about the demo: its host
    alerts and the agent's host probe, which judges this machine's CPU, memory and disk."""
    have = dict(labels)
    host = have["alertname"].startswith("DbsbmHost") and have.get(c.HOST_NAME) != STANDIN_HOST
    return host or have.get(c.PROBE) == "host"


def _shown(labels: Labels) -> str:
    have = dict(labels)
    name = have.pop("alertname")
    return f"{name}{{{', '.join(f'{k}={v}' for k, v in sorted(have.items()))}}}"


@pytest.mark.timeout(900)
def test_every_alert_fires_on_its_fault_and_resolves(
    demo: CompressedDemo,
    standin: tuple[StandIn, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://{LOOPBACK}:{demo.ports.prometheus}"
    _settle(url)
    results: list[Result] = []
    with Watcher(url) as watcher:
        start = time.monotonic()
        time.sleep(BASELINE_SECONDS)
        baseline, noted = [], []
        for labels, states in watcher.active(start, time.monotonic()).items():
            text = f"{_shown(labels)} {sorted(states)}"
            (noted if _real_host_alert(labels) else baseline).append(text)
        for group in GROUPS:
            results += _run_group(group, demo, standin[0], watcher)
            # Written as it goes: a run cut short still shows how far it got.
            (tmp_path / "alerts-live.txt").write_text(table(results, baseline) + "\n")
    text = table(results, baseline)
    if noted:
        text += "\n\nThis machine's own host alerts (not the demo's, not counted):\n" + "\n".join(
            noted
        )
    (tmp_path / "alerts-live.txt").write_text(text + "\n")
    with capsys.disabled():  # the figures are the point of the run: shown without -s
        print("\n" + text)
    problems = [r for r in results if r.problems]
    assert not baseline and not problems, text
