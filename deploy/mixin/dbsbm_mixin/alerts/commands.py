"""Discord commands: burn-rate alerts on the command error ratio, and commands that hang."""

from __future__ import annotations

from dbsbm_instrumentation import semconv, slo
from dbsbm_mixin import config as c
from dbsbm_mixin import rules as r
from dbsbm_mixin.model import Alert, At, Case, Fires, Rule, Runbook, Sample, series

_OBJECTIVE = c.percent_text(1 - slo.ERROR_RATIO_MAX)
_PING = {
    c.JOB: "bot",
    c.INSTANCE: "bot-1",
    c.COMMAND: "ping",
    c.COMMAND_TYPE: "slash",
}
_CALLS = series(semconv.DISCORD_COMMAND_DURATION, _PING, "_count")
_ERRORS = series(semconv.DISCORD_COMMAND_ERRORS, {**_PING, c.ERROR: "TimeoutError"})
_BOT = f'{c.TARGET_INFO}{{{c.JOB}="bot", {c.INSTANCE}="bot-1"}}'
_ACTIVE = series(
    semconv.DISCORD_COMMAND_ACTIVE, {c.JOB: "bot", c.INSTANCE: "bot-1", c.COMMAND_TYPE: "slash"}
)


def _rule(pair: c.BurnRateWindow) -> Rule:
    limit = pair.factor * slo.ERROR_RATIO_MAX
    return Rule(
        value=f"{r.error_ratio(pair.short)} and {r.error_ratio(pair.long)} > {c.num(limit)}",
        threshold=limit,
        for_=pair.for_,
        severity=pair.severity,
        summary="Discord commands are burning their error budget too fast.",
        description=(
            f"Commands of {c.labelled(c.JOB)} failed at {c.AS_PERCENT} "
            f"over {pair.short}, and above {c.percent_text(limit)} over {pair.long} too: "
            f"{pair.factor:g}x the error budget of the {_OBJECTIVE} objective."
        ),
        labels={"long_window": pair.long, "short_window": pair.short},
    )


def _burning(long: str, value: float) -> Fires:
    """The pair with long window ``long`` firing at error ratio ``value``."""
    [pair] = [p for p in c.ERROR_BUDGET_WINDOWS if p.long == long]
    labels = {"severity": pair.severity, c.JOB: "bot"}
    return Fires({**labels, "long_window": pair.long, "short_window": pair.short}, value)


ALERTS = (
    Alert(
        name="DbsbmCommandErrorBudgetBurn",
        area="commands",
        op=">",
        unit="ratio",
        rules=tuple(_rule(pair) for pair in c.ERROR_BUDGET_WINDOWS),
        watches="Command error ratio, both windows of a burn-rate pair",
        setting="slo.ERROR_RATIO_MAX x config.ERROR_BUDGET_WINDOWS",
        dashboard="commands",
        panel="Command errors per second by command and error",
        runbook=Runbook(
            meaning="Discord commands fail fast enough to spend the error budget of the "
            f"{_OBJECTIVE} objective early (multi-window, multi-burn-rate: both windows of the "
            "pair are above the rate).",
            impact="Users see failing commands. `critical` pages (the budget goes in hours to "
            "days), `warning` opens a ticket.",
            diagnosis="It names the command and `error_type`; follow a failing command's trace "
            "from Tempo to its logs.",
            mitigation="Roll back a bad release, or fix the dependency the failing command uses "
            "(see the latency and cache alerts firing alongside).",
        ),
        # Pairs: 1h & 5m above 14.4x (critical, for 2m); 6h & 30m above 6x (critical, for 15m);
        # 1d & 2h above 3x (warning, for 1h); 3d & 6h above 1x (warning, for 3h).
        no_data="OK",
        tests=(
            Case(
                name="10 % of commands failing fires every pair once its for has passed",
                series={_CALLS: "0+100x240", _ERRORS: "0+10x240"},
                samples=(Sample(r.error_ratio("5m"), "30m", {c.JOB: "bot"}, 0.1),),
                expect=(
                    # every pair is pending: none has been above its rate for its whole for
                    At("2m"),
                    # the critical pairs fire; the warning ones are pending (for 1h and 3h)
                    At("30m", (_burning("1h", 0.1), _burning("6h", 0.1))),
                    At(
                        "200m",
                        tuple(_burning(p.long, 0.1) for p in c.ERROR_BUDGET_WINDOWS),
                    ),
                ),
            ),
            Case(
                name="a first-ever burst of errors counts in the burn rate",
                # 100 calls a minute; at 10m the error series appears holding 100 (a minute of
                # failures) and grows no more. Counted from its second sample it would be 0.
                series={_BOT: "1+0x60", _CALLS: "0+100x60", _ERRORS: "_x10 100+0x50"},
                samples=(Sample(r.error_ratio("5m"), "13m", {c.JOB: "bot"}, 0.2),),
                expect=(
                    At("11m"),  # pending: 1h and 5m windows above 14.4x since 10m
                    # 100 of the 500 calls in the short window; the 6h pair waits for its 15m
                    At("13m", (_burning("1h", 0.2),)),
                    # once the burst leaves the 5m window the fast pair resolves
                    At("16m"),
                ),
            ),
            Case(
                name="commands that never failed read an error ratio of 0, not no data",
                series={_CALLS: "0+100x20"},
                samples=(Sample(r.error_ratio("5m"), "10m", {c.JOB: "bot"}, 0),),
                expect=(At("10m"),),
            ),
            Case(
                name="errors within budget (0.05 %) never fire DbsbmCommandErrorBudgetBurn",
                series={_CALLS: "0+2000x240", _ERRORS: "0+1x240"},
                expect=(At("30m"), At("200m")),
            ),
            Case(
                name="recovered errors stop the fast pairs though their long windows still burn",
                # 10 % errors for 40 minutes, then none
                series={_CALLS: "0+100x120", _ERRORS: "0+10x40 400+0x80"},
                # 45 minutes after recovery the 1h and 6h windows still hold the errors but the
                # 5m and 30m ones are clean, so both critical pairs have resolved. The 2h
                # window still burns (400 errors in 8500 calls), so the 1d/2h ticket keeps
                # firing; 3d/6h is still pending (for 3h).
                expect=(At("85m", (_burning("1d", 400 / 8500),)),),
            ),
        ),
    ),
    Alert(
        name="DbsbmCommandsHung",
        area="commands",
        op=">",
        unit="count",
        rules=(
            Rule(
                value=c.stalled(
                    semconv.DISCORD_COMMAND_ACTIVE,
                    semconv.DISCORD_COMMAND_DURATION,
                    c.COMMANDS_HUNG_WINDOW,
                ),
                threshold=0,
                for_=c.COMMANDS_HUNG_FOR,
                severity="critical",
                summary="Discord commands are running and none has completed.",
                description=(
                    f"{c.AS_NUMBER} commands of {c.labelled(c.JOB)} are in flight and none "
                    f"completed in the last {c.COMMANDS_HUNG_WINDOW}."
                ),
            ),
        ),
        watches=f"Commands in flight with none completed in {c.COMMANDS_HUNG_WINDOW}",
        setting="config.COMMANDS_HUNG_WINDOW",
        dashboard="commands",
        panel="Commands per second by command",
        runbook=Runbook(
            meaning="Commands start and none finishes: something every command waits on hangs. "
            "Hung commands reach neither the duration histogram nor the error count, so the "
            "burn-rate alerts stay quiet.",
            impact="Users get no answer at all; Discord shows the interaction as failed after 3 s.",
            diagnosis="It drops to 0 while commands keep arriving. Check the alerts on the "
            "dependencies (DbsbmDatabaseHung, DbsbmCacheFallbackActive, DbsbmProbeFailing) "
            "and the bot's logs; `py-spy dump` shows where the event loop waits.",
            mitigation="Restart the bot after taking a `py-spy dump`; give the call that hangs "
            "a timeout.",
        ),
        no_data="OK",
        tests=(
            Case(
                name="commands stuck in flight fire DbsbmCommandsHung",
                # four commands start at 5m and never finish; nothing completes after 5m
                series={_ACTIVE: "0x5 4x20", _CALLS: "0+60x5 300x20"},
                expect=(
                    At("9m"),  # completions still in the 5m window
                    At("11m"),  # pending since 10m
                    At("13m", (Fires({"severity": "critical", c.JOB: "bot"}, 4),)),
                ),
            ),
            Case(
                name="commands in flight that complete never fire DbsbmCommandsHung",
                series={_ACTIVE: "3x20", _CALLS: "0+60x20"},
                expect=(At("10m"), At("20m")),
            ),
        ),
    ),
)
