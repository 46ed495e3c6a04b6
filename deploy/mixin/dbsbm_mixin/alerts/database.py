"""The database: operation time against its target."""

from __future__ import annotations

from dbsbm_instrumentation import semconv, slo
from dbsbm_mixin import config as c
from dbsbm_mixin import rules as r
from dbsbm_mixin.model import Alert, At, Case, Fires, Rule, Runbook, Sample, series

_P = c.percentile(c.QUANTILE)
_SELECT = {
    c.JOB: "bot",
    c.INSTANCE: "bot-1",
    c.DB_SYSTEM: "mysql",
    c.DB_OPERATION: "SELECT",
}


def _buckets(counts: dict[str, str]) -> dict[str, str]:
    return {
        series(semconv.DB_OPERATION_DURATION, {**_SELECT, c.LE: le}, "_bucket"): values
        for le, values in counts.items()
    }


ALERTS = (
    Alert(
        name="DbsbmDatabaseLatencyHigh",
        area="database",
        op=">",
        unit="seconds",
        rules=(
            Rule(
                value=r.DB_LATENCY,
                threshold=slo.DB_QUERY_P95_MAX_SECONDS,
                for_=c.LATENCY_ALERT_FOR,
                severity="warning",
                summary=f"Database {_P} query time is above its target.",
                description=(
                    f"{_P} database operation time of {c.labelled(c.JOB)} is {c.AS_DURATION} "
                    f"(target {c.seconds_text(slo.DB_QUERY_P95_MAX_SECONDS)})."
                ),
            ),
        ),
        watches=f"Database {_P} operation time",
        setting="slo.DB_QUERY_P95_MAX_SECONDS",
        dashboard="database-cache",
        panel="Database operation duration by operation",
        runbook=Runbook(
            meaning="Database operations are slow at the 95th percentile.",
            impact="Every command that reads or writes the database slows down; the connection "
            "pool may run dry.",
            diagnosis="It shows which operation; *Connection pool* shows whether connections are "
            "all in use. Follow an exemplar to the slow query's span (the statement is sanitised).",
            mitigation="Look at MariaDB's slow query log and `SHOW PROCESSLIST`; add the missing "
            "index, raise the pool size, or move the hot read behind the cache.",
        ),
        no_data="OK",
        tests=(
            # With every operation between 0.1 s and 0.25 s the p95 is
            # 0.1 + 0.15 * 0.95 = 0.2425 s.
            Case(
                name="slow queries fire DbsbmDatabaseLatencyHigh after 10m",
                series=_buckets({"0.1": "0+0x20", "0.25": "0+60x20", "+Inf": "0+60x20"}),
                samples=(Sample(r.DB_LATENCY, "10m", {c.JOB: "bot"}, 0.2425),),
                expect=(
                    At("5m"),  # pending: slow for 4 minutes only
                    At("15m", (Fires({"severity": "warning", c.JOB: "bot"}, 0.2425),)),
                ),
            ),
            Case(
                name="fast queries never fire DbsbmDatabaseLatencyHigh",
                # every operation under 50 ms
                series=_buckets({"0.05": "0+60x20", "0.1": "0+60x20", "+Inf": "0+60x20"}),
                expect=(At("15m"),),
            ),
        ),
    ),
)
