"""The database: operation time against its target, a hung server, a saturated pool."""

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


_MYSQL = {c.JOB: "bot", c.INSTANCE: "bot-1", c.DB_SYSTEM: "mysql"}
_ACTIVE = series(semconv.DB_OPERATION_ACTIVE, _MYSQL)
_DONE = series(semconv.DB_OPERATION_DURATION, _SELECT, "_count")
_POOL = {c.JOB: "bot", c.INSTANCE: "bot-1", c.DB_POOL: "dbsbm"}
_PENDING = series(semconv.DB_CONNECTION_PENDING_REQUESTS, _POOL)
_USED = series(semconv.DB_CONNECTION_COUNT, {**_POOL, c.DB_CONNECTION_STATE: c.USED})
_IDLE = series(semconv.DB_CONNECTION_COUNT, {**_POOL, c.DB_CONNECTION_STATE: c.IDLE})
_MAX = series(semconv.DB_CONNECTION_MAX, _POOL)
_POOL_LABELS = {c.JOB: "bot", c.DB_POOL: "dbsbm"}  # what a saturated pool's alert carries


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
    Alert(
        name="DbsbmDatabaseHung",
        area="database",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=c.stalled(
                    semconv.DB_OPERATION_ACTIVE, semconv.DB_OPERATION_DURATION, c.DB_HUNG_WINDOW
                ),
                threshold=0,
                for_=c.DB_HUNG_FOR,
                severity="critical",
                summary="Database operations are in flight and none has completed.",
                description=(
                    f"{c.AS_NUMBER} database operations of {c.labelled(c.JOB)} are in flight "
                    f"and none completed in the last {c.DB_HUNG_WINDOW}."
                ),
            ),
        ),
        watches=f"Database operations in flight with none completed in {c.DB_HUNG_WINDOW}",
        setting="config.DB_HUNG_WINDOW",
        dashboard="database-cache",
        panel="Connection pool",
        runbook=Runbook(
            meaning="The database stopped answering: queries started and none finished. Hung "
            "queries never reach the duration histogram, so the latency alert stays quiet.",
            impact="Every command that touches the database hangs; the pool fills and callers "
            "queue behind it (DbsbmDatabaseSaturated follows).",
            diagnosis="It shows every connection in use. Check that MariaDB answers at all "
            "(`mariadb-admin ping`, `SHOW PROCESSLIST` for a lock or a long query), and its "
            "host's disk and memory.",
            mitigation="Kill the blocking query or restart the stuck server; set the "
            "instrumentation's query timeout (`OTEL_PYTHON_AIOMYSQL_QUERY_TIMEOUT`) so a hang "
            "turns into errors the error budget counts.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="operations stuck in flight fire DbsbmDatabaseHung",
                # three operations start at 5m and never finish; nothing completes after 5m
                series={_ACTIVE: "0x5 3x15", _DONE: "0+60x5 300x15"},
                expect=(
                    At("6m"),  # completions still in the 2m window
                    At("8m"),  # pending since 7m
                    At("10m", (Fires({"severity": "critical", c.JOB: "bot"}, 3),)),
                ),
            ),
            Case(
                name="operations in flight that complete never fire DbsbmDatabaseHung",
                series={_ACTIVE: "2x20", _DONE: "0+60x20"},
                expect=(At("10m"), At("20m")),
            ),
        ),
    ),
    Alert(
        name="DbsbmDatabaseSaturated",
        area="database",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=c.pool_saturated(),
                threshold=0,
                for_=c.DB_SATURATED_FOR,
                severity="warning",
                summary="Callers are waiting for a database connection: the pool is full.",
                description=(
                    f"{c.AS_NUMBER} callers of {c.labelled(c.JOB)} wait for a connection of "
                    f"pool {c.labelled(c.DB_POOL)}, whose connections are all in use."
                ),
            ),
        ),
        watches="Callers waiting for a connection while the pool is full",
        setting="config.DB_SATURATED_FOR",
        dashboard="database-cache",
        panel="Connection pool",
        runbook=Runbook(
            meaning="Every connection of a pool is in use and callers queue for one.",
            impact="Commands wait before their first query: latency grows for everything "
            "that uses the database, even fast queries.",
            diagnosis="It shows used against max. *Database operation duration by operation* "
            "shows whether slow queries hold the connections; DbsbmDatabaseHung firing too "
            "means the server stopped answering.",
            mitigation="Fix the slow or hung queries first; raise the pool's `maxsize` only if "
            "MariaDB has headroom (`max_connections`).",
        ),
        no_data="OK",
        tests=(
            Case(
                name="waiters on a full pool fire DbsbmDatabaseSaturated after 2m",
                series={
                    _PENDING: "0x5 4x15",
                    _USED: "3x5 10x15",
                    _IDLE: "7x5 0x15",
                    _MAX: "10x20",
                },
                expect=(
                    At("6m"),  # pending since 5m
                    At("8m", (Fires({"severity": "warning", **_POOL_LABELS}, 4),)),
                ),
            ),
            Case(
                name="a pool with free connections never fires DbsbmDatabaseSaturated",
                # a caller waits a moment while a connection is being opened
                series={_PENDING: "1x20", _USED: "6x20", _IDLE: "0x20", _MAX: "10x20"},
                expect=(At("10m"),),
            ),
        ),
    ),
)
