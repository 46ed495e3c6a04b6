"""External HTTP APIs: latency against its target, and 429 answers."""

from __future__ import annotations

from dbsbm_instrumentation import semconv, slo
from dbsbm_mixin import config as c
from dbsbm_mixin import rules as r
from dbsbm_mixin.model import Alert, At, Case, Fires, Rule, Runbook, Sample, series

_P = c.percentile(c.QUANTILE)
_SLOW = {c.JOB: "bot", c.SERVER: "api.example.com"}
_FAST = {c.JOB: "bot", c.SERVER: "fast.example.com"}
_LIMITED = {c.JOB: "bot", c.INSTANCE: "bot-1", c.SERVER: "api.example.com"}
# The bot as Prometheus knows it: a new counter series counts from 0 only for a known sender.
_BOT = f'{c.TARGET_INFO}{{{c.JOB}="bot", {c.INSTANCE}="bot-1"}}'


def _buckets(labels: dict[str, str], counts: dict[str, str]) -> dict[str, str]:
    return {
        series(semconv.HTTP_CLIENT_DURATION, {**labels, c.LE: le}, "_bucket"): values
        for le, values in counts.items()
    }


ALERTS = (
    Alert(
        name="DbsbmApiLatencyHigh",
        area="api",
        op=">",
        unit="seconds",
        rules=(
            Rule(
                value=r.API_LATENCY,
                threshold=slo.API_LATENCY_P95_MAX_SECONDS,
                for_=c.LATENCY_ALERT_FOR,
                severity="warning",
                summary=f"External API {_P} latency is above its target.",
                description=(
                    f"{_P} latency of requests to {c.labelled(c.SERVER)} is {c.AS_DURATION} "
                    f"(target {c.seconds_text(slo.API_LATENCY_P95_MAX_SECONDS)})."
                ),
            ),
        ),
        watches=f"External API {_P} latency",
        setting="slo.API_LATENCY_P95_MAX_SECONDS",
        dashboard="external-apis",
        panel="Request duration by server",
        runbook=Runbook(
            meaning="Requests the bot makes to an external HTTP API are slow at the 95th "
            "percentile.",
            impact="Commands that wait on that API answer late; Discord interactions may time "
            "out (3 s to acknowledge).",
            diagnosis="Find the alert's `server_address` there. Click an exemplar to open a "
            "slow request's trace in Tempo, then its logs.",
            mitigation="Check the provider's status page. Cache its answers longer, lower "
            "concurrency towards it, or degrade the commands that depend on it.",
        ),
        no_data="OK",
        tests=(
            # Buckets are cumulative; with every request between 0.25 s and 0.5 s the p95 is
            # linearly interpolated: 0.25 + 0.25 * 0.95 = 0.4875 s.
            Case(
                name="slow API fires DbsbmApiLatencyHigh for that server only, after 10m",
                series={
                    **_buckets(
                        _SLOW,
                        {"0.1": "0+0x20", "0.25": "0+0x20", "0.5": "0+60x20", "+Inf": "0+60x20"},
                    ),
                    **_buckets(
                        _FAST,
                        {"0.1": "0+60x20", "0.25": "0+60x20", "0.5": "0+60x20", "+Inf": "0+60x20"},
                    ),
                },
                samples=(
                    Sample(r.API_LATENCY, "10m", {c.SERVER: "api.example.com"}, 0.4875),
                    Sample(r.API_LATENCY, "10m", {c.SERVER: "fast.example.com"}, 0.095),
                ),
                expect=(
                    At("5m"),  # pending: above target for 4 minutes only
                    At(
                        "15m",
                        (Fires({"severity": "warning", c.SERVER: "api.example.com"}, 0.4875),),
                    ),
                ),
            ),
            Case(
                name="fast API never fires DbsbmApiLatencyHigh",
                series=_buckets(_SLOW, {"0.1": "0+60x20", "+Inf": "0+60x20"}),
                expect=(At("15m"),),
            ),
        ),
    ),
    Alert(
        name="DbsbmApiRateLimited",
        area="api",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=r.API_RATE_LIMITED,
                threshold=c.RATE_LIMITED_RESPONSES_MAX,
                for_=c.RATE_LIMITED_FOR,
                severity="warning",
                summary="An external API is answering with HTTP 429 (rate limited).",
                description=(
                    f"{c.labelled(c.SERVER)} answered {c.AS_NUMBER} requests with "
                    f"HTTP 429 in the last {c.WINDOW}."
                ),
            ),
        ),
        watches=f"HTTP 429 answers per {c.RATE_WINDOW}",
        setting="config.RATE_LIMITED_RESPONSES_MAX",
        dashboard="external-apis",
        panel=f"HTTP 429 answers per {c.WINDOW} by server",
        runbook=Runbook(
            meaning="An external API answered HTTP 429 Too Many Requests.",
            impact="Requests are rejected until the provider's window resets; commands using it "
            "fail or serve stale data.",
            diagnosis="It shows which `server_address`; *Requests per second by server and "
            "status* shows whether traffic rose.",
            mitigation="Honour `Retry-After`, add client-side rate limiting or caching, and check "
            "for a retry loop that multiplies traffic.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="sustained 429 answers fire DbsbmApiRateLimited after 1m",
                series={series(semconv.API_RATE_LIMITED, _LIMITED): "0+3x20"},
                expect=(
                    At("1m"),  # pending: 429s seen for one evaluation only
                    At("3m", (Fires({"severity": "warning", c.SERVER: "api.example.com"}, 9),)),
                ),
            ),
            Case(
                name="a first-ever pair of 429s fires DbsbmApiRateLimited, then resolves",
                # The series appears at 5m already holding 2 and grows no more. Counted from
                # its second sample only, the pair would never be seen at all.
                series={
                    _BOT: "1+0x20",
                    series(semconv.API_RATE_LIMITED, _LIMITED): "_x5 2+0x15",
                },
                expect=(
                    At("5m"),  # pending
                    At("7m", (Fires({"severity": "warning", c.SERVER: "api.example.com"}, 2),)),
                    At("11m"),  # the pair has left the 5m window
                ),
            ),
            Case(
                name="a sender Prometheus has just met does not count its old 429s as new",
                # Prometheus started (or lost its data) while the bot had 40 429s behind it.
                series={
                    _BOT: "_x5 1+0x20",
                    series(semconv.API_RATE_LIMITED, _LIMITED): "_x5 40+0x20",
                },
                expect=(At("6m"), At("12m")),
            ),
            Case(
                name="no new 429 answers never fire DbsbmApiRateLimited",
                # an old count that no longer grows
                series={series(semconv.API_RATE_LIMITED, _LIMITED): "42+0x20"},
                expect=(At("10m"),),
            ),
        ),
    ),
)
