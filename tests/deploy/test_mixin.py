"""The deploy mixin's outputs: current, valid for promtool, tested, and consistent.

The promtool tests in deploy/prometheus/tests are generated from each alert's test cases, with
expected annotations rendered by the mixin and compared by promtool with Prometheus' own
rendering. The other checks read the committed files as Prometheus and Grafana would, and
compare them with each other and with semconv.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import generate
import pytest
import yaml

from dbsbm_instrumentation import semconv
from dbsbm_mixin import config as c
from tests.services import REPO, PrometheusService, require_binary

RULES = sorted((REPO / "deploy/prometheus/rules").glob("*.yml"))
RULE_TESTS = sorted((REPO / "deploy/prometheus/tests").glob("*-test.yaml"))
PROVISIONING = REPO / "deploy/grafana/provisioning"
ALERTING = PROVISIONING / "alerting/alerts.yaml"
DATASOURCES = PROVISIONING / "datasources/datasources.yaml"
DASHBOARDS = sorted((PROVISIONING / "dashboards/dbsbm").glob("*.json"))
RUNBOOK = REPO / "docs/runbook.md"
EXPRESSION_UID = "__expr__"
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def prometheus_rules() -> list[dict[str, Any]]:
    return [rule for path in RULES for group in load(path)["groups"] for rule in group["rules"]]


def prometheus_alerts() -> list[dict[str, Any]]:
    return [rule for rule in prometheus_rules() if "alert" in rule]


def grafana_rules() -> list[dict[str, Any]]:
    return [rule for group in load(ALERTING)["groups"] for rule in group["rules"]]


def dashboard_targets() -> list[dict[str, Any]]:
    return [
        target
        for path in DASHBOARDS
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
    ]


def metric_names(expr: str) -> set[str]:
    """Series names in a PromQL expression: identifiers that are not functions,
    keywords, label names (in matchers or grouping clauses) or durations."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        if re.match(r"\s*\(", expr[match.end() :]) or match[0] in PROMQL_KEYWORDS:
            continue
        names.add(match[0])
    return names


def semconv_names() -> set[str]:
    instruments = [v for v in vars(semconv).values() if isinstance(v, semconv.Instrument)]
    return {
        i.prometheus + suffix
        for i in instruments
        for suffix in (("", "_bucket", "_sum", "_count") if i.kind == "histogram" else ("",))
    }


def test_metric_names_parser_skips_functions_labels_and_keywords() -> None:
    """The name parser finds series names only, or the semconv check below proves nothing."""
    expr = (
        'histogram_quantile(0.95, sum by (server_address, le) (rate(a_bucket{x="y"}[5m]))) '
        "and on (job) b:c:d > bool 1e-05"
    )
    assert metric_names(expr) == {"a_bucket", "b:c:d"}


def test_generated_files_are_current() -> None:
    """`generate.py --check` passes: nobody changed a threshold without regenerating."""
    result = subprocess.run(
        [sys.executable, "deploy/mixin/generate.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_check_names_a_stale_file(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--check` exits 1 and names the file whose content would change."""
    real = generate.outputs()
    stale = RULES[0]
    monkeypatch.setattr(
        generate,
        "outputs",
        lambda: {**real, stale: real[stale] + "# changed\n"},
    )
    assert generate.main(["--check"]) == 1
    assert f"stale: {stale.relative_to(REPO)}" in capsys.readouterr().err


def test_promtool_check_rules() -> None:
    """Every generated rules file passes `promtool check rules`."""
    promtool = require_binary("promtool", "prometheus")
    result = subprocess.run(
        [promtool, "check", "rules", *map(str, RULES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    """The generated promtool unit tests pass against the generated rules."""
    promtool = require_binary("promtool", "prometheus")
    result = subprocess.run(
        [promtool, "test", "rules", *map(str, RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO / "deploy/prometheus/tests",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_rules_file_has_its_test_file() -> None:
    """One promtool test file per area, as rules/<area>.yml and tests/<area>-test.yaml."""
    areas = {p.stem for p in RULES}
    assert areas == {p.name.removesuffix("-test.yaml") for p in RULE_TESTS}
    for path in RULE_TESTS:
        assert load(path)["rule_files"] == [f"../rules/{path.name.removesuffix('-test.yaml')}.yml"]


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    """Each alert rule (name plus static labels) is seen firing, with all its annotations
    (runbook_url included), and seen not firing, in some promtool case; every case is named."""
    firing: set[tuple[str, frozenset[tuple[str, str]]]] = set()
    quiet: set[tuple[str, frozenset[tuple[str, str]]]] = set()
    expected = {
        (rule["alert"], frozenset(rule["labels"].items())): rule for rule in prometheus_alerts()
    }
    for path in RULE_TESTS:
        for case in load(path)["tests"]:
            assert case.get("name"), f"{path.name}: a test case has no name"
            for check in case.get("alert_rule_test", []):
                name = check["alertname"]
                for (alert, labels), rule in expected.items():
                    if alert != name:
                        continue
                    matching = [
                        e
                        for e in check.get("exp_alerts") or []
                        if labels <= set(e["exp_labels"].items())
                    ]
                    (firing if matching else quiet).add((alert, labels))
                    for exp in matching:  # promtool compares the rendered text exactly
                        got = exp["exp_annotations"]
                        assert got.keys() == rule["annotations"].keys(), case["name"]
                        for key in ("summary", "runbook_url"):  # static: equal as written
                            assert got[key] == rule["annotations"][key], case["name"]
    assert not expected.keys() - firing, f"never seen firing: {expected.keys() - firing}"
    assert not expected.keys() - quiet, f"never seen quiet: {expected.keys() - quiet}"


def test_every_alert_has_the_house_anatomy() -> None:
    """`for`, a known severity, a static summary, a templated description, a runbook URL."""
    for rule in prometheus_alerts():
        assert re.fullmatch(r"Dbsbm[A-Z][A-Za-z]+", rule["alert"])
        assert rule["for"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert "{{" not in rule["annotations"]["summary"]
        assert "{{ $labels." in rule["annotations"]["description"]
        assert rule["annotations"]["runbook_url"] == c.RUNBOOK_URL_PATTERN.format(
            name=rule["alert"].lower()
        )


def test_grafana_has_every_prometheus_alert_with_the_same_expression() -> None:
    """Query A compared as threshold C says exactly what the Prometheus expression says,
    under the same title; a warning's query only adds ``unless`` its alert's critical rules
    (Grafana has no inhibition)."""
    grafana = grafana_rules()
    alerts = prometheus_alerts()
    assert len(grafana) == len(alerts)
    for alert in alerts:
        [rule] = [
            r for r in grafana if r["title"] == alert["alert"] and r["labels"] == alert["labels"]
        ]
        data = {d["refId"]: d for d in rule["data"]}
        query = data["A"]["model"]["expr"]
        criticals = [
            a["expr"]
            for a in alerts
            if a["alert"] == alert["alert"] and a["labels"]["severity"] == "critical"
        ]
        if alert["labels"]["severity"] == "warning" and criticals:
            suffix = "".join(f" unless ({expr})" for expr in criticals)
            assert query.startswith("(") and query.endswith(")" + suffix), query
            query = query.removesuffix(suffix)[1:-1]
        evaluator = data["C"]["model"]["conditions"][0]["evaluator"]
        op = {"gt": ">", "lt": "<"}[evaluator["type"]]
        threshold = f"{evaluator['params'][0]:g}"
        assert alert["expr"] in {f"{query} {op} {threshold}", f"({query}) {op} {threshold}"}
        assert rule["for"] == alert["for"]
        assert rule["annotations"]["runbook_url"] == alert["annotations"]["runbook_url"]


def test_every_runbook_url_has_its_runbook_entry() -> None:
    """Each alert's runbook_url anchor is a heading of docs/runbook.md."""
    headings = set(re.findall(r"^## (alert-name-[a-z]+)$", RUNBOOK.read_text(), re.MULTILINE))
    urls = {r["annotations"]["runbook_url"] for r in [*prometheus_alerts(), *grafana_rules()]}
    for url in urls:
        page, _, anchor = url.partition("#")
        assert page == c.RUNBOOK_URL_PATTERN.split("#")[0]
        assert anchor in headings, f"docs/runbook.md has no entry {anchor}"


def test_every_alert_links_the_panel_where_its_diagnosis_starts() -> None:
    """Each alert's dashboard_url opens one existing panel on its own (``?viewPanel=<id>``),
    the same in Prometheus and Grafana (whose rules also carry it as dashboardUid/panelId),
    and the alert's runbook entry names that panel."""
    dashboards = {(d := json.loads(p.read_text()))["uid"]: d for p in DASHBOARDS}
    runbook = RUNBOOK.read_text()
    grafana_links = {
        r["title"]: (r["annotations"]["dashboard_url"], r["dashboardUid"], str(r["panelId"]))
        for r in grafana_rules()
    }
    for alert in prometheus_alerts():
        link = alert["annotations"]["dashboard_url"]
        url = urllib.parse.urlsplit(link)
        assert f"{url.scheme}://{url.netloc}" == c.GRAFANA_EXTERNAL_URL
        uid = url.path.removeprefix("/d/")
        assert uid in dashboards, f"{alert['alert']}: no dashboard {uid}"
        [panel_id] = urllib.parse.parse_qs(url.query)["viewPanel"]
        assert grafana_links[alert["alert"]] == (link, uid, panel_id)
        [panel] = [p for p in dashboards[uid]["panels"] if str(p["id"]) == panel_id]
        anchor = f"## alert-name-{alert['alert'].lower()}\n"
        entry = runbook.split(anchor)[1].split("\n## ")[0]
        assert f"*{panel['title']}*" in entry, (alert["alert"], panel["title"])


def test_every_metric_name_comes_from_semconv() -> None:
    """Rules, Grafana alerts and dashboards query only semconv names, our own records, or
    the pipeline's own metrics as the mixin's config names them."""
    records = {r["record"] for r in prometheus_rules() if "record" in r}
    allowed = semconv_names() | records | set(c.PIPELINE_METRICS)
    exprs = [r["expr"] for r in prometheus_rules()]
    exprs += [d["model"]["expr"] for r in grafana_rules() for d in r["data"] if d["refId"] == "A"]
    exprs += [t["expr"] for t in dashboard_targets()]
    used = set().union(*map(metric_names, exprs))
    assert used, "the parser found no metric at all"
    assert not used - allowed, f"not from semconv: {sorted(used - allowed)}"
    assert all(":" in r for r in records), "recording rules are named level:metric:operation"


def test_only_defined_datasource_uids_are_referenced() -> None:
    """Dashboards, alert rules and datasource links name uids that datasources.yaml defines."""
    sources = load(DATASOURCES)["datasources"]
    uids = {s["uid"] for s in sources}
    assert uids == {"dbsbm-prometheus", "dbsbm-tempo", "dbsbm-loki"}
    referenced = set()
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            referenced.add(panel["datasource"]["uid"])
            referenced.update(t["datasource"]["uid"] for t in panel["targets"])
    for rule in grafana_rules():
        referenced.update(d["datasourceUid"] for d in rule["data"] if d["refId"] == "A")
        assert {d["datasourceUid"] for d in rule["data"] if d["refId"] != "A"} == {EXPRESSION_UID}
    links = json.dumps([s.get("jsonData", {}) for s in sources])
    referenced.update(re.findall(r'"datasourceUid": "([^"]+)"', links))
    assert referenced - uids == set()


def test_prometheus_loads_the_rules_and_runs_every_query(
    prometheus_factory: Callable[..., PrometheusService],
    tmp_path: Path,
) -> None:
    """A real Prometheus loads every rules file and accepts every dashboard and alert query."""
    config = tmp_path / "prometheus.yml"
    rules = str(REPO / "deploy/prometheus/rules/*.yml")
    config.write_text(yaml.safe_dump({"rule_files": [rules]}))
    prometheus = prometheus_factory(config)
    rules_api = f"{prometheus.url}/api/v1/rules"
    with urllib.request.urlopen(rules_api, timeout=10) as response:
        groups = json.load(response)["data"]["groups"]
    assert sum(len(g["rules"]) for g in groups) == len(prometheus_rules())
    queries = {t["expr"] for t in dashboard_targets()}
    queries |= {d["model"]["expr"] for r in grafana_rules() for d in r["data"] if d["refId"] == "A"}
    for query in sorted(queries):
        prometheus.query(query)  # raises on a query Prometheus rejects


def test_dashboard_uids_are_unique_and_stable() -> None:
    """A dashboard's uid follows from its file name, so links survive regeneration."""
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert uids == [f"dbsbm-{p.stem}" for p in DASHBOARDS]
    assert len(set(uids)) == len(uids) >= 5
