"""The telemetry pipeline itself: senders gone silent, the collector refusing, dropping or
failing to export, its queues filling, Prometheus failing to scrape or to evaluate rules.

Every other alert reads data this pipeline delivers; when it breaks they go quiet, so these
say so instead.
"""

from __future__ import annotations

from dbsbm_instrumentation import semconv
from dbsbm_mixin import config as c
from dbsbm_mixin.model import Alert, At, Case, Fires, Rule, Runbook, series

_STOPPED = (
    f"group {c.by(c.JOB)} (last_over_time({c.SENDERS}[{c.TELEMETRY_MEMORY}])) "
    f"unless on ({c.JOB}) ({c.SENDERS} or {c.UP})"
)
_PROBES = c.selector(semconv.PROBE_SUCCESS)
# A whole agent gone silent is DbsbmTelemetryStopped's: only probes of a live agent count.
_PROBES_STOPPED = (
    f"group {c.by(c.JOB, c.PROBE)} (last_over_time({_PROBES}[{c.TELEMETRY_MEMORY}])) "
    f"unless on ({c.JOB}, {c.PROBE}) {_PROBES} unless on ({c.JOB}) ({_STOPPED})"
)
_COLLECTOR = {c.JOB: "otel-collector", c.INSTANCE: "otel-collector:8888"}
_OTLP = {**_COLLECTOR, c.RECEIVER: "otlp/app", "transport": "grpc"}
_REMOTE_WRITE = {**_COLLECTOR, c.EXPORTER: "prometheus_remote_write/prometheus"}
_METRICS_QUEUE = {**_REMOTE_WRITE, c.DATA_TYPE: "metrics"}
_MYSQL_PROBE = {c.JOB: "dbsbm-agent", c.PROBE: "mysql"}
_LOOKBACK = "5m"  # Prometheus' default: a series without a sample for this long is gone


def _counter(name: str, labels: dict[str, str]) -> str:
    """A test series of a collector counter, as the collector names it (no _total)."""
    selector = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{selector}}}"


def _collector_rate(prefix: str, *labels: str) -> str:
    return f"sum {c.by(c.JOB, c.INSTANCE, *labels)} ({c.per_signal_rate(prefix)})"


def _target(job: str, instance: str) -> str:
    return f'{c.TARGET_INFO}{{{c.JOB}="{job}", {c.INSTANCE}="{instance}"}}'


ALERTS = (
    Alert(
        name="DbsbmTelemetryStopped",
        area="pipeline",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=_STOPPED,
                threshold=0,
                for_=c.TELEMETRY_STOPPED_FOR,
                severity="critical",
                summary="A service that sent telemetry has stopped sending any.",
                description=(
                    f"{c.labelled(c.JOB)} has sent no telemetry for more than {_LOOKBACK} "
                    f"(it did within the last {c.TELEMETRY_MEMORY}): the process, its "
                    "OpenTelemetry exporter or the collector has stopped."
                ),
            ),
        ),
        watches="Services sending telemetry (job seen in the last day, silent now)",
        setting="config.TELEMETRY_STOPPED_FOR, config.TELEMETRY_MEMORY",
        dashboard="pipeline",
        panel="Telemetry senders",
        runbook=Runbook(
            meaning="A job (OpenTelemetry `service.name`) that wrote metrics through the "
            "collector within the last day has written none for five minutes. Every alert "
            "on that job's data is blind meanwhile.",
            impact="If the bot itself stopped, users get no answers; if only its telemetry "
            "stopped, nothing about it is alerted on.",
            diagnosis="Is the process running? Its log shows exporter errors (`Failed to "
            "export`); `DbsbmCollectorRefusingData` or `DbsbmScrapeTargetDown` firing "
            "alongside points at the collector.",
            mitigation="Restart the process or the collector; check "
            "`OTEL_EXPORTER_OTLP_ENDPOINT` and the network between them. A service retired on "
            "purpose stops alerting a day after its last data.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="a bot that stops sending fires DbsbmTelemetryStopped once its series go",
                series={
                    _target("bot", "bot-1"): "1x10",
                    # scraped jobs have target_info too; their silence is DbsbmScrapeTargetDown's
                    _target("otel-collector", "otel-collector:8888"): "1x10",
                    _target("dbsbm-agent", "agent-1"): "1x30",
                    f'{c.UP}{{{c.JOB}="otel-collector", {c.INSTANCE}="otel-collector:8888"}}': (
                        "1x10 0x20"
                    ),
                },
                expect=(
                    At("14m"),  # the last sample is still within the lookback
                    At("16m"),  # gone, pending
                    At("20m", (Fires({"severity": "critical", c.JOB: "bot"}, 1),)),
                ),
            ),
            Case(
                name="services sending all along never fire DbsbmTelemetryStopped",
                series={_target("bot", "bot-1"): "1x30", _target("dbsbm-agent", "a-1"): "1x30"},
                expect=(At("20m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmAgentNotReporting",
        area="pipeline",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=_PROBES_STOPPED,
                threshold=0,
                for_=c.TELEMETRY_STOPPED_FOR,
                severity="warning",
                summary="A health probe has stopped reporting results.",
                description=(
                    f"Probe {c.labelled(c.PROBE)} of {c.labelled(c.JOB)} has reported no "
                    f"result for more than {_LOOKBACK}: the agent, its scheduler or its "
                    "export has stopped."
                ),
            ),
        ),
        watches="Probe results (probe seen in the last day, silent now)",
        setting="config.TELEMETRY_STOPPED_FOR, config.TELEMETRY_MEMORY",
        dashboard="health-host",
        panel="Probe success by probe",
        runbook=Runbook(
            meaning="The agent reported this probe within the last day and has not for five "
            "minutes; `DbsbmProbeFailing` cannot fire for it meanwhile.",
            impact="Nothing checks that dependency: an outage of it goes unseen by the agent.",
            diagnosis="The agent's `/health` endpoint and its log; `DbsbmTelemetryStopped` for "
            "the agent's job means the whole agent is silent, not one probe.",
            mitigation="Restart the agent (`dbsbm-agent --check-config` first if its "
            "configuration changed: a probe removed on purpose is forgotten a day later).",
        ),
        no_data="OK",
        tests=(
            Case(
                name="a probe whose results stop fires DbsbmAgentNotReporting",
                series={
                    series(semconv.PROBE_SUCCESS, _MYSQL_PROBE): "1x10",
                    series(semconv.PROBE_SUCCESS, {c.JOB: "dbsbm-agent", c.PROBE: "redis"}): (
                        "1x30"
                    ),
                    # the agent itself still sends
                    _target("dbsbm-agent", "agent-1"): "1x30",
                },
                expect=(
                    At("14m"),
                    At(
                        "20m",
                        (
                            Fires(
                                {"severity": "warning", c.JOB: "dbsbm-agent", c.PROBE: "mysql"}, 1
                            ),
                        ),
                    ),
                ),
            ),
            Case(
                name="an agent silent as a whole leaves it to DbsbmTelemetryStopped",
                series={
                    series(semconv.PROBE_SUCCESS, _MYSQL_PROBE): "1x10",
                    _target("dbsbm-agent", "agent-1"): "1x10",
                },
                expect=(At("20m"),),
            ),
            Case(
                name="probes reporting all along never fire DbsbmAgentNotReporting",
                series={
                    series(semconv.PROBE_SUCCESS, {c.JOB: "dbsbm-agent", c.PROBE: "mysql"}): (
                        "0x30"
                    ),
                },
                expect=(At("20m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmCollectorRefusingData",
        area="pipeline",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=_collector_rate(c.COLLECTOR_REFUSED, c.RECEIVER),
                threshold=0,
                for_=c.COLLECTOR_TROUBLE_FOR,
                severity="warning",
                summary="The collector is refusing telemetry it receives.",
                description=(
                    f"Receiver {c.labelled(c.RECEIVER)} of {c.labelled(c.JOB)} on "
                    f"{c.labelled(c.INSTANCE)} refuses {c.AS_NUMBER} items/s: senders retry, "
                    "then drop them."
                ),
            ),
        ),
        watches="Items the collector's receivers refuse, per second",
        setting="config.COLLECTOR_TROUBLE_FOR",
        dashboard="pipeline",
        panel="Refused by receiver",
        runbook=Runbook(
            meaning="A collector receiver answers senders with an error, almost always "
            "because `memory_limiter/guard` refuses data above its memory limit.",
            impact="The SDKs retry and then drop: traces, metrics or logs go missing.",
            diagnosis="The collector's log and `otelcol_process_memory_rss`; "
            "`DbsbmCollectorQueueNearlyFull` or `DbsbmCollectorExportFailing` alongside "
            "means a slow backend backs data up into memory.",
            mitigation="Fix the backend that backs up, or give the collector more memory "
            "(docker-compose's limit) and lower its batch sizes.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="refused metric points fire DbsbmCollectorRefusingData after 5m",
                series={
                    _counter(f"{c.COLLECTOR_REFUSED}_metric_points", _OTLP): "0+60x20",
                    _counter(f"{c.COLLECTOR_REFUSED}_spans", _OTLP): "0x20",
                },
                expect=(
                    At("4m"),
                    At(
                        "12m",
                        (Fires({"severity": "warning", **_COLLECTOR, c.RECEIVER: "otlp/app"}, 1),),
                    ),
                ),
            ),
            Case(
                name="a collector refusing nothing never fires DbsbmCollectorRefusingData",
                series={_counter(f"{c.COLLECTOR_REFUSED}_metric_points", _OTLP): "5+0x20"},
                expect=(At("12m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmCollectorDroppingData",
        area="pipeline",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=_collector_rate(c.COLLECTOR_ENQUEUE_FAILED, c.EXPORTER),
                threshold=0,
                for_=c.COLLECTOR_TROUBLE_FOR,
                severity="warning",
                summary="The collector is dropping telemetry: an exporter's queue is full.",
                description=(
                    f"Exporter {c.labelled(c.EXPORTER)} of {c.labelled(c.JOB)} on "
                    f"{c.labelled(c.INSTANCE)} drops {c.AS_NUMBER} items/s it cannot queue."
                ),
            ),
        ),
        watches="Items dropped because an exporter's queue is full, per second",
        setting="config.COLLECTOR_TROUBLE_FOR",
        dashboard="pipeline",
        panel="Dropped by exporter",
        runbook=Runbook(
            meaning="An exporter's sending queue is full, so new data is dropped on arrival.",
            impact="Telemetry for that backend is lost for as long as this fires.",
            diagnosis="`DbsbmCollectorExportFailing` for the same exporter names the backend "
            "that does not take data; the collector's log has its errors.",
            mitigation="Restore the backend (Prometheus, Tempo, Loki); raise `queue_size` only "
            "if bursts, not an outage, fill it.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="spans dropped at a full queue fire DbsbmCollectorDroppingData after 5m",
                series={_counter(f"{c.COLLECTOR_ENQUEUE_FAILED}_spans", _REMOTE_WRITE): "0+30x20"},
                expect=(
                    At("4m"),
                    At(
                        "12m",
                        (
                            Fires(
                                {
                                    "severity": "warning",
                                    **_COLLECTOR,
                                    c.EXPORTER: "prometheus_remote_write/prometheus",
                                },
                                0.5,
                            ),
                        ),
                    ),
                ),
            ),
            Case(
                name="no drops never fire DbsbmCollectorDroppingData",
                series={_counter(f"{c.COLLECTOR_ENQUEUE_FAILED}_spans", _REMOTE_WRITE): "0x20"},
                expect=(At("12m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmCollectorExportFailing",
        area="pipeline",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=_collector_rate(c.COLLECTOR_SEND_FAILED, c.EXPORTER),
                threshold=0,
                for_=c.COLLECTOR_TROUBLE_FOR,
                severity="warning",
                summary="A collector exporter is failing to send to its backend.",
                description=(
                    f"Exporter {c.labelled(c.EXPORTER)} of {c.labelled(c.JOB)} on "
                    f"{c.labelled(c.INSTANCE)} fails to send {c.AS_NUMBER} items/s."
                ),
            ),
        ),
        watches="Items an exporter failed to send (retries exhausted), per second",
        setting="config.COLLECTOR_TROUBLE_FOR",
        dashboard="pipeline",
        panel="Dropped by exporter",
        runbook=Runbook(
            meaning="An exporter gave up on data after its retries: the backend refuses it "
            "or cannot be reached.",
            impact="That backend misses data: metrics for the other alerts (remote write), "
            "traces (Tempo) or logs (Loki).",
            diagnosis="The `exporter` label names the backend; the collector's log says why "
            "(connection refused, 4xx, timeout).",
            mitigation="Restore the backend or fix its endpoint variable "
            "(`PROMETHEUS_REMOTE_WRITE_URL`, `TEMPO_OTLP_ENDPOINT`, `LOKI_OTLP_ENDPOINT`).",
        ),
        no_data="OK",
        tests=(
            Case(
                name="failed sends fire DbsbmCollectorExportFailing after 5m",
                series={
                    _counter(f"{c.COLLECTOR_SEND_FAILED}_metric_points", _REMOTE_WRITE): (
                        "0+120x20"
                    ),
                },
                expect=(
                    At("4m"),
                    At(
                        "12m",
                        (
                            Fires(
                                {
                                    "severity": "warning",
                                    **_COLLECTOR,
                                    c.EXPORTER: "prometheus_remote_write/prometheus",
                                },
                                2,
                            ),
                        ),
                    ),
                ),
            ),
            Case(
                name="sends that succeed never fire DbsbmCollectorExportFailing",
                series={
                    _counter(f"{c.COLLECTOR_SEND_FAILED}_metric_points", _REMOTE_WRITE): "3+0x20"
                },
                expect=(At("12m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmCollectorQueueNearlyFull",
        area="pipeline",
        op=">",
        unit="ratio",
        rules=(
            Rule(
                value=(
                    f"max {c.by(c.JOB, c.INSTANCE, c.EXPORTER, c.DATA_TYPE)} "
                    f"({c.COLLECTOR_QUEUE_SIZE} / {c.COLLECTOR_QUEUE_CAPACITY})"
                ),
                threshold=c.COLLECTOR_QUEUE_RATIO_MAX,
                for_=c.COLLECTOR_TROUBLE_FOR,
                severity="warning",
                summary="A collector exporter's queue is nearly full.",
                description=(
                    f"The {c.labelled(c.DATA_TYPE)} queue of {c.labelled(c.EXPORTER)} on "
                    f"{c.labelled(c.INSTANCE)} is {c.AS_PERCENT} full: data is dropped when "
                    "it fills."
                ),
            ),
        ),
        watches="Exporter queue size over capacity",
        setting="config.COLLECTOR_QUEUE_RATIO_MAX",
        dashboard="pipeline",
        panel="Exporter queue fill",
        runbook=Runbook(
            meaning="Data arrives faster than the exporter sends it, usually because the "
            "backend is slow or down and retries pile up.",
            impact="None yet; when the queue is full, `DbsbmCollectorDroppingData` follows.",
            diagnosis="`DbsbmCollectorExportFailing` for the same exporter; the backend's own "
            "health (Prometheus' `/-/ready`, Tempo, Loki).",
            mitigation="Restore the backend; for a sustained higher load, raise the "
            "exporter's `queue_size` or its consumers.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="a queue at 90 % for 5m fires DbsbmCollectorQueueNearlyFull",
                series={
                    _counter(c.COLLECTOR_QUEUE_SIZE, _METRICS_QUEUE): "100 1800x20",
                    _counter(c.COLLECTOR_QUEUE_CAPACITY, _METRICS_QUEUE): "2000x20",
                },
                expect=(
                    At("4m"),
                    At("12m", (Fires({"severity": "warning", **_METRICS_QUEUE}, 0.9),)),
                ),
            ),
            Case(
                name="a queue at 10 % never fires DbsbmCollectorQueueNearlyFull",
                series={
                    _counter(c.COLLECTOR_QUEUE_SIZE, _METRICS_QUEUE): "200x20",
                    _counter(c.COLLECTOR_QUEUE_CAPACITY, _METRICS_QUEUE): "2000x20",
                },
                expect=(At("12m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmScrapeTargetDown",
        area="pipeline",
        op="<",
        unit="count",
        rules=(
            Rule(
                value=c.UP,
                threshold=1,
                for_=c.SCRAPE_FAILING_FOR,
                severity="warning",
                summary="Prometheus cannot scrape one of its targets.",
                description=(
                    f"Prometheus has failed to scrape {c.labelled(c.JOB)} at "
                    f"{c.labelled(c.INSTANCE)} for more than {c.SCRAPE_FAILING_FOR}."
                ),
            ),
        ),
        watches="Scrape success (`up`, 1 = scraped)",
        setting="config.SCRAPE_FAILING_FOR",
        dashboard="pipeline",
        panel="Scrape targets up",
        runbook=Runbook(
            meaning="A target in `deploy/prometheus/prometheus.yml` does not answer its scrape.",
            impact="Its metrics (for the collector: its queue and refusal counters) are "
            "missing, so the collector alerts above cannot fire.",
            diagnosis="Prometheus' *Status > Targets* page shows the scrape error; is the "
            "target's address right where Prometheus runs (`otel-collector:8888` resolves "
            "only inside docker-compose)?",
            mitigation="Start the target or correct its address in the scrape config.",
        ),
        no_data="NoData",
        tests=(
            Case(
                name="a target failing its scrapes fires DbsbmScrapeTargetDown after 5m",
                series={
                    f'{c.UP}{{{c.JOB}="otel-collector", {c.INSTANCE}="otel-collector:8888"}}': (
                        "1 0x15"
                    ),
                    f'{c.UP}{{{c.JOB}="prometheus", {c.INSTANCE}="localhost:9090"}}': "1x15",
                },
                expect=(
                    At("4m"),
                    At("8m", (Fires({"severity": "warning", **_COLLECTOR}, 0),)),
                ),
            ),
            Case(
                name="targets that answer never fire DbsbmScrapeTargetDown",
                series={f'{c.UP}{{{c.JOB}="prometheus", {c.INSTANCE}="localhost:9090"}}': "1x15"},
                expect=(At("8m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmRuleEvaluationFailing",
        area="pipeline",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=(
                    f"sum {c.by(c.JOB, c.INSTANCE, c.RULE_GROUP)} "
                    f"(increase({c.RULE_EVALUATION_FAILURES}[{c.WINDOW}]))"
                ),
                threshold=0,
                for_=c.RULE_FAILING_FOR,
                severity="warning",
                summary="Prometheus is failing to evaluate alerting or recording rules.",
                description=(
                    f"{c.AS_NUMBER} evaluations of rule group {c.labelled(c.RULE_GROUP)} "
                    f"failed in the last {c.WINDOW}."
                ),
            ),
        ),
        watches=f"Failed rule evaluations per {c.WINDOW}",
        setting="config.RULE_FAILING_FOR",
        dashboard="pipeline",
        panel="Rule evaluation failures",
        runbook=Runbook(
            meaning="Prometheus could not evaluate a rule of that group (a query error or "
            "timeout, or a result with duplicate label sets).",
            impact="The group's alerts cannot fire and its recording rules have gaps.",
            diagnosis="Prometheus' *Status > Rules* page shows the last error of each rule.",
            mitigation="Fix the rule in `deploy/mixin/dbsbm_mixin/` and regenerate; for "
            "timeouts, look at Prometheus' load.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="failing evaluations fire DbsbmRuleEvaluationFailing after 5m",
                series={
                    f'{c.RULE_EVALUATION_FAILURES}{{{c.JOB}="prometheus", '
                    f'{c.INSTANCE}="localhost:9090", {c.RULE_GROUP}="api.yml;dbsbm-api"}}': (
                        "0+1x20"
                    ),
                },
                expect=(
                    At("4m"),
                    At(
                        "12m",
                        (
                            Fires(
                                {
                                    "severity": "warning",
                                    c.JOB: "prometheus",
                                    c.INSTANCE: "localhost:9090",
                                    c.RULE_GROUP: "api.yml;dbsbm-api",
                                },
                                5,
                            ),
                        ),
                    ),
                ),
            ),
            Case(
                name="rules evaluating cleanly never fire DbsbmRuleEvaluationFailing",
                series={
                    f'{c.RULE_EVALUATION_FAILURES}{{{c.JOB}="prometheus", '
                    f'{c.INSTANCE}="localhost:9090", {c.RULE_GROUP}="api.yml;dbsbm-api"}}': (
                        "2+0x20"
                    ),
                },
                expect=(At("12m"),),
            ),
        ),
    ),
)
