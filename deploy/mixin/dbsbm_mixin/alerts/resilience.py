"""Retry and circuit breakers: a breaker held open."""

from __future__ import annotations

from dbsbm_instrumentation import semconv
from dbsbm_mixin import config as c
from dbsbm_mixin.model import Alert, At, Case, Fires, Rule, Runbook, series

_OPEN = semconv.BREAKER_STATE_VALUES["open"]
_HALF_OPEN = semconv.BREAKER_STATE_VALUES["half_open"]
_CLOSED = semconv.BREAKER_STATE_VALUES["closed"]
_REDIS = {c.JOB: "bot", c.INSTANCE: "bot-1", c.BREAKER: "redis"}
_MYSQL = {c.JOB: "bot", c.INSTANCE: "bot-1", c.BREAKER: "mysql"}

ALERTS = (
    Alert(
        name="DbsbmCircuitBreakerOpen",
        area="resilience",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=f"{c.selector(semconv.BREAKER_STATE_GAUGE)} == bool {_OPEN}",
                threshold=0,
                for_=c.BREAKER_OPEN_FOR,
                severity="warning",
                summary="A circuit breaker is open: calls to its dependency are short-circuited.",
                description=(
                    f"Circuit breaker {c.labelled(c.BREAKER)} of {c.labelled(c.JOB)} has been "
                    f"open for more than {c.BREAKER_OPEN_FOR}."
                ),
            ),
        ),
        watches="Circuit breaker open (1 = open)",
        setting="config.BREAKER_OPEN_FOR",
        dashboard="database-cache",
        panel="Circuit-breaker state",
        runbook=Runbook(
            meaning="A circuit breaker opened after repeated failures of its dependency.",
            impact="Calls to that dependency fail fast (or fall back) until a half-open probe "
            "succeeds.",
            diagnosis="It names the breaker; *Retries by operation and error* shows the errors "
            "that opened it.",
            mitigation="Fix the dependency the breaker guards; the breaker closes after a "
            "successful half-open call.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="an open breaker fires DbsbmCircuitBreakerOpen after 1m",
                series={
                    series(semconv.BREAKER_STATE_GAUGE, _REDIS): (
                        f"{_CLOSED} {_CLOSED} {_OPEN} {_OPEN} {_OPEN} {_OPEN} {_OPEN}"
                    ),
                    # another breaker stays closed
                    series(semconv.BREAKER_STATE_GAUGE, _MYSQL): f"{_CLOSED}x6",
                },
                expect=(
                    At("2m"),  # pending: open since 2m
                    At("5m", (Fires({"severity": "warning", **_REDIS}, 1),)),
                ),
            ),
            Case(
                name="half-open and closed breakers never fire DbsbmCircuitBreakerOpen",
                series={
                    series(semconv.BREAKER_STATE_GAUGE, _REDIS): f"{_HALF_OPEN}x6",
                    series(semconv.BREAKER_STATE_GAUGE, _MYSQL): f"{_CLOSED}x6",
                },
                expect=(At("5m"),),
            ),
        ),
    ),
)
