"""The cache: hit ratio against its target, and serving from the local tier."""

from __future__ import annotations

from dbsbm_instrumentation import semconv, slo
from dbsbm_mixin import config as c
from dbsbm_mixin import rules as r
from dbsbm_mixin.model import Alert, At, Case, Fires, Rule, Runbook, Sample, series

_BOT = {c.JOB: "bot", c.INSTANCE: "bot-1"}


def _ops(operation: str, tier: str, result: str) -> str:
    labels = {c.CACHE_OPERATION: operation, c.CACHE_TIER: tier, c.CACHE_RESULT: result}
    return series(semconv.CACHE_OPERATIONS, {**_BOT, **labels})


_FALLBACK = series(semconv.CACHE_FALLBACK_ACTIVE, _BOT)
_FALLBACK_ANY = f"max {c.by(c.JOB, c.INSTANCE)} ({c.selector(semconv.CACHE_FALLBACK_ACTIVE)})"

ALERTS = (
    Alert(
        name="DbsbmCacheHitRatioLow",
        area="cache",
        op="<",
        unit="ratio",
        rules=(
            Rule(
                value=f"{r.CACHE_HIT_RATIO} and {r.CACHE_LOOKUPS} > 0",
                threshold=slo.CACHE_HIT_RATIO_MIN,
                for_=c.CACHE_HIT_ALERT_FOR,
                severity="warning",
                summary="Cache hit ratio is below its target.",
                description=(
                    f"Cache hit ratio of {c.labelled(c.JOB)} is {c.AS_PERCENT} "
                    f"(target above {c.percent_text(slo.CACHE_HIT_RATIO_MIN)})."
                ),
            ),
        ),
        watches="Cache hit ratio of `get`",
        setting="slo.CACHE_HIT_RATIO_MIN",
        dashboard="database-cache",
        panel="Cache operations by tier and result",
        runbook=Runbook(
            meaning="Too few cache lookups are hits.",
            impact="More reads reach the database and external APIs, which raises latency and "
            "load.",
            diagnosis="A jump in misses after a deploy points at changed keys or TTLs; errors on "
            "the redis tier point at Redis.",
            mitigation="Check TTLs and key prefixes of the last release, Redis memory "
            "(`INFO memory`, evictions) and whether a flush happened.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="half of the lookups missing fires DbsbmCacheHitRatioLow after 15m",
                series={
                    _ops("get", "redis", "hit"): "0+25x30",
                    _ops("get", "redis", "miss"): "0+50x30",
                    # writes are not lookups: they must not dilute the ratio
                    _ops("set", "redis", "ok"): "0+500x30",
                    # only get counts, as in the cache's get_stats(): exists hits must not
                    # lift the ratio
                    _ops("exists", "redis", "hit"): "0+500x30",
                    # gets answered by the local tier count too (25 + 25 hits, 50 misses)
                    _ops("get", "local", "hit"): "0+25x30",
                },
                samples=(Sample(r.CACHE_HIT_RATIO, "10m", {c.JOB: "bot"}, 0.5),),
                expect=(
                    At("10m"),  # pending: low for 9 minutes only
                    At("20m", (Fires({"severity": "warning", c.JOB: "bot"}, 0.5),)),
                ),
            ),
            Case(
                name="a 95 % hit ratio never fires DbsbmCacheHitRatioLow",
                series={
                    _ops("get", "redis", "hit"): "0+95x30",
                    _ops("get", "redis", "miss"): "0+5x30",
                },
                expect=(At("20m"),),
            ),
            Case(
                name="no lookups at all never fire DbsbmCacheHitRatioLow (0/0 is no verdict)",
                series={
                    _ops("get", "redis", "hit"): "10+0x30",
                    _ops("get", "redis", "miss"): "90+0x30",
                },
                expect=(At("20m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmCacheFallbackActive",
        area="cache",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=_FALLBACK_ANY,
                threshold=0,
                for_=c.CACHE_FALLBACK_FOR,
                severity="warning",
                summary="The cache is serving from its local tier because Redis is unavailable.",
                description=(
                    f"{c.labelled(c.JOB)} on {c.labelled(c.INSTANCE)} has served from the local "
                    f"cache tier for more than {c.CACHE_FALLBACK_FOR}: Redis is unreachable."
                ),
            ),
        ),
        watches="Cache serving from its local tier (1 = active)",
        setting="config.CACHE_FALLBACK_FOR",
        dashboard="database-cache",
        panel="Local fallback active",
        runbook=Runbook(
            meaning="Redis is unreachable, so the cache serves from its in-process local tier.",
            impact="Entries are not shared between processes and are lost on restart; the hit "
            "ratio and the database load follow.",
            diagnosis="Then *Circuit-breaker state*, and the redis probe on *DBSBM / Health & "
            "host*.",
            mitigation="Restore Redis (process, network, auth, memory). The cache returns to "
            "Redis by itself once the breaker closes.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="serving from the local tier fires DbsbmCacheFallbackActive after 5m",
                series={_FALLBACK: "0 1 1 1 1 1 1 1 1 1 1"},
                expect=(
                    At("4m"),  # pending: on the local tier for 3 minutes only
                    At("8m", (Fires({"severity": "warning", **_BOT}, 1),)),
                ),
            ),
            Case(
                name="a short Redis blip never fires DbsbmCacheFallbackActive",
                series={_FALLBACK: "0 1 1 0 0 0 0 0 0 0 0"},
                expect=(At("8m"),),
            ),
        ),
    ),
)
