"""The agent's probes and the host: probe failures, memory and disk use."""

from __future__ import annotations

from collections.abc import Mapping

from dbsbm_agent import config as agent_config
from dbsbm_instrumentation import semconv
from dbsbm_mixin import config as c
from dbsbm_mixin.config import Severity
from dbsbm_mixin.model import Alert, At, Case, Fires, Rule, Runbook, series

_AGENT = {c.JOB: "dbsbm-agent", c.INSTANCE: "agent:9464"}
_MYSQL = series(semconv.PROBE_SUCCESS, {**_AGENT, c.PROBE: "mysql", c.PROBE_KIND: "mysql"})
_REDIS = series(semconv.PROBE_SUCCESS, {**_AGENT, c.PROBE: "redis", c.PROBE_KIND: "redis"})
_FAILING = {"severity": "critical", c.JOB: "dbsbm-agent", c.PROBE: "mysql"}
_HOST = {c.HOST_NAME: "host-1"}
_MEMORY_USED = {**_HOST, c.HOST_STATE: c.USED}
_ROOT = {**_HOST, c.DEVICE: "/dev/sda1", c.MOUNTPOINT: "/", "mode": "rw", "type": "ext4"}
_DATA = {**_HOST, c.DEVICE: "/dev/sdb1", c.MOUNTPOINT: "/data", "mode": "rw", "type": "ext4"}
_RATIOS: tuple[tuple[float, Severity], ...] = (
    (agent_config.RESOURCE_WARN_RATIO, "warning"),
    (agent_config.RESOURCE_FAIL_RATIO, "critical"),
)


def _host_rules(what: str, value: str, where: str) -> tuple[Rule, ...]:
    """One resource rule at the agent's warning ratio and one at its failing ratio."""
    return tuple(
        Rule(
            value=value,
            threshold=ratio,
            for_=c.HOST_RESOURCE_FOR,
            severity=severity,
            summary=f"{what} use is above {c.percent_text(ratio)}.",
            description=f"{what} on {where} is {c.AS_PERCENT} used "
            f"(alerting above {c.percent_text(ratio)} for {c.HOST_RESOURCE_FOR}).",
        )
        for ratio, severity in _RATIOS
    )


def _both(labels: Mapping[str, str], value: float) -> tuple[Fires, ...]:
    return tuple(Fires({"severity": s, **labels}, value) for _, s in _RATIOS)


def _warning(labels: Mapping[str, str], value: float) -> tuple[Fires, ...]:
    return (Fires({"severity": "warning", **labels}, value),)


_MEMORY = series(semconv.SYSTEM_MEMORY_UTILIZATION, _MEMORY_USED)
_CPU_IDLE = c.selector(semconv.SYSTEM_CPU_UTILIZATION, **{c.HOST_STATE: c.IDLE})
_CPUS = tuple(
    series(semconv.SYSTEM_CPU_UTILIZATION, {**_HOST, "cpu": cpu, c.HOST_STATE: c.IDLE})
    for cpu in ("cpu0", "cpu1")
)
_DISK = series(semconv.SYSTEM_FILESYSTEM_UTILIZATION, _ROOT)
_HOST_SETTING = "dbsbm_agent.config.RESOURCE_WARN_RATIO / RESOURCE_FAIL_RATIO"

ALERTS = (
    Alert(
        name="DbsbmProbeFailing",
        area="health",
        op="<",
        unit="count",
        rules=(
            Rule(
                value=f"min {c.by(c.JOB, c.PROBE)} ({c.selector(semconv.PROBE_SUCCESS)})",
                threshold=1,
                for_=c.PROBE_FAILING_FOR,
                severity="critical",
                summary="A health probe is failing.",
                description=(
                    f"Probe {c.labelled(c.PROBE)} of {c.labelled(c.JOB)} has failed for more "
                    f"than {c.PROBE_FAILING_FOR}."
                ),
            ),
        ),
        watches="Probe success (1 = passing)",
        setting="config.PROBE_FAILING_FOR",
        dashboard="health-host",
        panel="Probe status",
        runbook=Runbook(
            meaning="One of the agent's health probes (mysql, redis, http, discord, host) fails.",
            impact="The probed dependency is down or failing its check; readiness reports fail.",
            diagnosis="Then *Probe duration by probe*; the agent's `/health` endpoint shows each "
            "check's output.",
            mitigation="Restore the dependency the probe names; a probe at its timeout "
            f"({agent_config.PROBE_TIMEOUT_SECONDS:g} s) points at a hung rather than a dead "
            "service.",
        ),
        no_data="NoData",
        tests=(
            Case(
                name="a probe failing for 2m fires DbsbmProbeFailing for that probe only",
                series={_MYSQL: "1 0 0 0 0 0", _REDIS: "1x5"},
                expect=(
                    At("2m"),  # pending: failing for 1 minute only
                    At("4m", (Fires(_FAILING, 0),)),
                ),
            ),
            Case(
                name="passing probes and a single failed one never fire DbsbmProbeFailing",
                series={_MYSQL: "1 1 0 1 1 1", _REDIS: "1x5"},
                expect=(At("5m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmHostMemoryHigh",
        area="health",
        op=">",
        unit="ratio",
        rules=_host_rules(
            "Memory",
            c.selector(semconv.SYSTEM_MEMORY_UTILIZATION, **{c.HOST_STATE: c.USED}),
            c.labelled(c.HOST_NAME),
        ),
        watches="Host memory used",
        setting=_HOST_SETTING,
        dashboard="health-host",
        panel="Host memory used",
        runbook=Runbook(
            meaning="The host's used memory is above the warning or failing ratio.",
            impact="The kernel may swap or OOM-kill the bot, Redis or MariaDB.",
            diagnosis="Beside it, *Bot process memory* tells the bot from the rest.",
            mitigation="Find the process that grew (`ps aux --sort=-rss`); restart a leaking "
            "one, lower cache sizes, or add memory.",
        ),
        no_data="NoData",
        tests=(
            Case(
                name="memory 85 % used fires the DbsbmHostMemoryHigh warning, not the critical one",
                series={
                    _MEMORY: "0.85x15",
                    # plenty of free memory is not an alarm
                    series(
                        semconv.SYSTEM_MEMORY_UTILIZATION, {**_HOST, c.HOST_STATE: "free"}
                    ): "0.15x15",
                },
                expect=(
                    At("5m"),  # pending: high for 5 minutes only
                    At("12m", _warning(_MEMORY_USED, 0.85)),
                ),
            ),
            Case(
                name="memory 95 % used fires both DbsbmHostMemoryHigh severities",
                series={_MEMORY: "0.95x15"},
                expect=(At("12m", _both(_MEMORY_USED, 0.95)),),
            ),
            Case(
                name="memory 50 % used never fires DbsbmHostMemoryHigh",
                series={_MEMORY: "0.5x15"},
                expect=(At("12m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmHostDiskHigh",
        area="health",
        op=">",
        unit="ratio",
        rules=_host_rules(
            "Disk",
            c.selector(semconv.SYSTEM_FILESYSTEM_UTILIZATION),
            f"{c.labelled(c.HOST_NAME)} ({c.labelled(c.MOUNTPOINT)} on {c.labelled(c.DEVICE)})",
        ),
        watches="Host filesystem used",
        setting=_HOST_SETTING,
        dashboard="health-host",
        panel="Host disk used by mountpoint",
        runbook=Runbook(
            meaning="A filesystem on the host is nearly full.",
            impact="A full disk stops MariaDB writes, Redis persistence and logging.",
            diagnosis="It names the filesystem.",
            mitigation="Free space (`du -xh --max-depth=1`): rotate logs, prune images and old "
            "backups, then grow the volume.",
        ),
        no_data="NoData",
        tests=(
            Case(
                name="a 95 % full filesystem fires both DbsbmHostDiskHigh severities",
                series={
                    _DISK: "0.95x15",
                    series(semconv.SYSTEM_FILESYSTEM_UTILIZATION, _DATA): "0.4x15",
                },
                expect=(At("12m", _both(_ROOT, 0.95)),),
            ),
            Case(
                name="an 85 % full filesystem fires the DbsbmHostDiskHigh warning, "
                "not the critical one",
                series={_DISK: "0.85x15"},
                expect=(At("12m", _warning(_ROOT, 0.85)),),
            ),
            Case(
                name="a 70 % full filesystem never fires DbsbmHostDiskHigh",
                series={_DISK: "0.7x15"},
                expect=(At("12m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmHostCpuSaturated",
        area="health",
        op=">",
        unit="ratio",
        rules=_host_rules(
            "CPU", f"1 - avg {c.by(c.HOST_NAME)} ({_CPU_IDLE})", c.labelled(c.HOST_NAME)
        ),
        watches="Host CPU busy (all cores)",
        setting=_HOST_SETTING,
        dashboard="health-host",
        panel="Host CPU busy",
        runbook=Runbook(
            meaning="The host's CPUs have been busy above the warning or failing ratio, "
            "averaged over all cores.",
            impact="Everything on the host slows down: command latency, queries, the "
            "collector's own processing.",
            diagnosis="Beside it, *Bot process CPU* tells the bot from the rest.",
            mitigation="Find the process (`top -o %CPU`); a bot at 100 % of one core points at "
            "blocking work on its event loop. Add cores or move a neighbour off the host.",
        ),
        no_data="NoData",
        tests=(
            Case(
                name="CPUs 95 % busy fire both DbsbmHostCpuSaturated severities",
                series={cpu: "0.05x15" for cpu in _CPUS},
                expect=(At("5m"), At("12m", _both(_HOST, 0.95))),
            ),
            Case(
                name="CPUs 85 % busy fire the DbsbmHostCpuSaturated warning only",
                series={cpu: "0.15x15" for cpu in _CPUS},
                expect=(At("12m", _warning(_HOST, 0.85)),),
            ),
            Case(
                name="CPUs 40 % busy never fire DbsbmHostCpuSaturated",
                series={_CPUS[0]: "0.5x15", _CPUS[1]: "0.7x15"},
                expect=(At("12m"),),
            ),
        ),
    ),
)
