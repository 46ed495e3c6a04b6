"""What an alert is: one definition from which everything about it is rendered.

An ``Alert`` is one alert name. It holds the rules Prometheus evaluates under that name (one
per severity or per burn-rate pair), the runbook entry, the dashboard where diagnosis starts,
what docs/thresholds.md says about it, and the promtool cases that prove it fires and stays
quiet. The Prometheus rules, Grafana rules, promtool tests, runbook and thresholds table are
all rendered from these fields, so adding an alert is adding one ``Alert``.

A rule is a PromQL ``value`` compared (``>`` or ``<``) with a number. Prometheus gets
``value op threshold`` as one expression; Grafana gets ``value`` as query A, reduces it to B
and compares B in threshold C, the only comparisons its threshold expression shares with
PromQL. Both therefore fire on the same series.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from dbsbm_instrumentation.semconv import Instrument
from dbsbm_mixin import config as c
from dbsbm_mixin.config import Severity
from dbsbm_mixin.dashboards import panel_id

Unit = Literal["seconds", "ratio", "count"]
# Grafana's state for a rule whose query returns nothing. "OK": nothing means idle or
# healthy (no commands, no 429s); silence itself is DbsbmTelemetryStopped's to report.
# "NoData": the series always exist while their source runs, so nothing means we are blind.
NoData = Literal["OK", "NoData"]

# Set operators bind more loosely than comparisons, and comparisons chain left to right:
# a value holding either is parenthesised before the threshold comparison.
_LOOSE_OPERATOR = re.compile(r"\s(and|or|unless|==|!=|>=|<=|>|<)\s")


@dataclass(frozen=True)
class Rule:
    """One alerting rule: fires when ``value op threshold`` has held for ``for_``."""

    value: str
    threshold: float
    for_: str
    severity: Severity
    summary: str  # static, one sentence
    description: str  # templated; ``$value`` is the compared value
    labels: Mapping[str, str] = field(default_factory=dict)  # static, besides severity


@dataclass(frozen=True)
class Runbook:
    """The runbook entry; the generator adds the conditions and the dashboard."""

    meaning: str
    impact: str
    diagnosis: str
    mitigation: str


@dataclass(frozen=True)
class Fires:
    """An alert expected firing: all its labels, and the value its description renders."""

    labels: Mapping[str, str]  # severity and the rule's static labels included
    value: float


@dataclass(frozen=True)
class At:
    """What is firing at ``time`` after the series start; nothing when ``fires`` is empty."""

    time: str
    fires: tuple[Fires, ...] = ()


@dataclass(frozen=True)
class Sample:
    """A recording rule's expected value, checked beside the alert that reads it."""

    record: str
    time: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Case:
    """One promtool test case: input series (promtool's value notation) and expectations."""

    name: str
    series: Mapping[str, str]  # series -> values, e.g. ``'0+60x20'``
    expect: tuple[At, ...]
    samples: tuple[Sample, ...] = ()
    interval: str = "1m"


@dataclass(frozen=True)
class Alert:
    name: str
    area: str  # rules/<area>.yml, tests/<area>-test.yaml, the Grafana group
    op: Literal[">", "<"]
    unit: Unit  # how docs print the threshold
    rules: tuple[Rule, ...]
    watches: str  # what the threshold is about, as docs/thresholds.md names it
    setting: str  # where the threshold number is set
    dashboard: str  # dashboards/dbsbm/<dashboard>.json
    panel: str  # the title of its panel where diagnosis starts: the alert's link opens it
    runbook: Runbook
    tests: tuple[Case, ...]
    no_data: NoData  # Grafana's noDataState (a warning standing down to its critical: OK)

    @property
    def panel_id(self) -> int:
        """The id of ``panel`` on ``dashboard``, which the alert's links open."""
        return panel_id(self.dashboard, self.panel)

    def expr(self, rule: Rule) -> str:
        value = f"({rule.value})" if _LOOSE_OPERATOR.search(rule.value) else rule.value
        return f"{value} {self.op} {c.num(rule.threshold)}"

    def distinct(self, rule: Rule) -> list[str]:
        """What sets a rule apart from the others of its name: static labels, else severity."""
        return list(rule.labels.values()) or [rule.severity]

    def key(self, rule: Rule) -> str:
        return "-".join([self.name.lower(), *self.distinct(rule)])

    def labels(self, rule: Rule) -> dict[str, str]:
        return {"severity": rule.severity, **rule.labels}

    def annotations(self, rule: Rule, value: str = "$value") -> dict[str, str]:
        """``value`` is how the templating engine spells the compared value."""
        return {
            "summary": rule.summary,
            "description": re.sub(r"\$value\b", value, rule.description),
            "runbook_url": c.runbook_url(self.name),
            "dashboard_url": c.dashboard_url(self.dashboard, self.panel_id),
        }

    def rule_for(self, labels: Mapping[str, str]) -> Rule:
        """The one rule whose labels a firing alert with ``labels`` carries."""
        matching = [r for r in self.rules if self.labels(r).items() <= labels.items()]
        assert len(matching) == 1, f"{self.name}: {dict(labels)} matches {len(matching)} rules"
        return matching[0]

    def threshold_text(self, threshold: float) -> str:
        if self.unit == "seconds":
            return c.seconds_text(threshold)
        if self.unit == "ratio":
            return c.percent_text(threshold)
        return c.num(threshold)


def series(instrument: Instrument, labels: Mapping[str, str], suffix: str = "") -> str:
    """A test input series, ``metric{label="value", ...}``."""
    return c.selector(instrument, suffix, **labels)
