"""Grafana loads deploy/grafana/provisioning: datasources, dashboards, alert rules.

With a Docker engine the real Grafana (the image pinned in .env) starts with the folder
mounted as docker-compose.yml mounts it, and its HTTP API is asked what it loaded.
Without one, a stand-in runs instead and says so (a warning and the ``grafana_check``
property): a structural check of the files against what Grafana's provisioning requires.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import urllib.request
import warnings
from typing import Any

import yaml

from tests.services import REPO, docker_available, wait_for

PROVISIONING = REPO / "deploy/grafana/provisioning"
CONTAINER_PROVISIONING = "/etc/grafana/provisioning"  # as docker-compose.yml mounts it
EXPRESSION_UID = "__expr__"
UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
DURATION = re.compile(r"(\d+[smhdw])+")
REDUCERS = {"last", "mean", "min", "max", "sum", "count"}
EVALUATORS = {"gt", "lt", "within_range", "outside_range"}
NO_DATA_STATES = {"Alerting", "NoData", "OK", "KeepLast"}
EXEC_ERR_STATES = {"Alerting", "Error", "OK", "KeepLast"}
WEBHOOK_ENV = "$DISCORD_ALERT_WEBHOOK_URL"


class StandInUsed(UserWarning):
    """No Docker engine: the provisioning was checked structurally, not by Grafana."""


def load(relative: str) -> Any:
    return yaml.safe_load((PROVISIONING / relative).read_text())


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(PROVISIONING.glob("dashboards/*/*.json"))]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load("alerting/alerts.yaml")["groups"] for rule in group["rules"]]


def grafana_image() -> str:
    """The tag docker-compose.yml runs, so this test and the stack use one Grafana."""
    env = (REPO / ".env").read_text()
    match = re.search(r"^GRAFANA_IMAGE=(\S+)$", env, re.MULTILINE)
    assert match, ".env has no GRAFANA_IMAGE"
    return match[1]


# --- the stand-in: what Grafana's provisioning would reject ----------------------------------
def stand_in_check_datasources() -> set[str]:
    document = load("datasources/datasources.yaml")
    assert document["apiVersion"] == 1
    sources = document["datasources"]
    uids = [s["uid"] for s in sources]
    assert len(set(uids)) == len(uids) and all(UID.fullmatch(u) for u in uids)
    assert sum(bool(s.get("isDefault")) for s in sources) == 1
    for source in sources:
        assert source["name"] and source["type"] in {"prometheus", "tempo", "loki"}
        assert source["access"] == "proxy" and source["url"].startswith("http://")
    check_datasource_links(sources, file=True)
    return set(uids)


def check_datasource_links(sources: list[dict[str, Any]], *, file: bool) -> None:
    """The links between the datasources: exemplars -> traces -> logs -> traces.

    ``file``: ``sources`` come from the provisioning file, where Grafana's ``$`` expansion
    has not run yet (``$${...}`` stands for a literal ``${...}``).
    """
    by_type = {s["type"]: s for s in sources}
    assert by_type.keys() == {"prometheus", "tempo", "loki"}, by_type.keys()
    prometheus, tempo, loki = (by_type[t] for t in ("prometheus", "tempo", "loki"))
    # Prometheus: an exemplar's trace_id label (as the collector's remote write labels
    # exemplars; tests/e2e asserts that label arrives) opens the trace in Tempo.
    destinations = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert {"name": "trace_id", "datasourceUid": tempo["uid"]} in [
        {k: d.get(k) for k in ("name", "datasourceUid")} for d in destinations
    ], destinations
    # Tempo: a span's "Logs for this span" queries Loki by trace id; the service map
    # reads the span metrics from Prometheus.
    to_logs = tempo["jsonData"]["tracesToLogsV2"]
    assert to_logs["datasourceUid"] == loki["uid"] and to_logs["filterByTraceID"] is True
    assert tempo["jsonData"]["serviceMap"]["datasourceUid"] == prometheus["uid"]
    # Loki: OTLP logs keep trace_id as structured metadata; the derived field turns it
    # into a link to the trace in Tempo.
    value = "$${__value.raw}" if file else "${__value.raw}"
    fields = [
        f for f in loki["jsonData"]["derivedFields"] if f.get("datasourceUid") == tempo["uid"]
    ]
    assert fields, "no Loki derived field links to Tempo"
    assert any(
        f["matcherType"] == "label" and f["matcherRegex"] == "trace_id" and f["url"] == value
        for f in fields
    ), fields


def stand_in_check_dashboards(datasource_uids: set[str]) -> set[str]:
    document = load("dashboards/dbsbm.yaml")
    assert document["apiVersion"] == 1
    [provider] = document["providers"]
    assert provider["type"] == "file" and provider["name"]
    path = provider["options"]["path"]
    assert path.startswith(CONTAINER_PROVISIONING + "/")
    folder = PROVISIONING / path.removeprefix(CONTAINER_PROVISIONING + "/")
    assert sorted(folder.glob("*.json")), f"the provider reads {path}, which holds no dashboard"
    uids = set()
    for dashboard in dashboards():
        assert UID.fullmatch(dashboard["uid"]) and dashboard["uid"] not in uids
        uids.add(dashboard["uid"])
        assert dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(set(ids)) == len(ids)
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
            assert panel["datasource"]["uid"] in datasource_uids
            refs = [t["refId"] for t in panel["targets"]]
            assert refs and len(set(refs)) == len(refs)
            assert all(
                t["datasource"]["uid"] in datasource_uids and t["expr"] for t in panel["targets"]
            )
    return uids


def stand_in_check_alerting(datasource_uids: set[str]) -> set[str]:
    document = load("alerting/alerts.yaml")
    assert document["apiVersion"] == 1
    uids: set[str] = set()
    # Grafana 12 allows one title for several rules of a folder (the Prometheus alert name
    # shared by its severities); their labels tell them apart.
    identities: set[tuple[str, str, str]] = set()
    for group in document["groups"]:
        assert group["orgId"] == 1 and group["name"] and group["folder"]
        assert DURATION.fullmatch(group["interval"])
        for rule in group["rules"]:
            assert UID.fullmatch(rule["uid"]) and rule["uid"] not in uids
            uids.add(rule["uid"])
            identity = (group["folder"], rule["title"], json.dumps(rule["labels"], sort_keys=True))
            assert identity not in identities, "rules of one title differ in labels"
            identities.add(identity)
            data = {d["refId"]: d for d in rule["data"]}
            assert rule["condition"] in data
            query = data["A"]
            assert query["datasourceUid"] in datasource_uids and query["model"]["expr"]
            assert query["relativeTimeRange"]["from"] > query["relativeTimeRange"]["to"]
            for ref in ("B", "C"):
                assert data[ref]["datasourceUid"] == EXPRESSION_UID
                assert data[ref]["model"]["datasource"]["uid"] == EXPRESSION_UID
            reduce, threshold = data["B"]["model"], data["C"]["model"]
            assert reduce["type"] == "reduce" and reduce["reducer"] in REDUCERS
            assert reduce["expression"] == "A"
            assert threshold["type"] == "threshold" and threshold["expression"] == "B"
            [condition] = threshold["conditions"]
            assert condition["evaluator"]["type"] in EVALUATORS
            assert all(isinstance(p, (int, float)) for p in condition["evaluator"]["params"])
            assert rule["noDataState"] in NO_DATA_STATES
            assert rule["execErrState"] in EXEC_ERR_STATES
            assert DURATION.fullmatch(rule["for"])
            assert rule["labels"]["severity"] and rule["annotations"]["runbook_url"]
            for text in rule["annotations"].values():
                # Grafana expands $NAME from the environment: templates must write $$.
                assert "$" not in text.replace("$$", ""), text
    contact_points = {cp["name"]: cp for cp in document["contactPoints"]}
    [receiver] = contact_points["discord"]["receivers"]
    assert receiver["type"] == "discord" and receiver["settings"]["url"] == WEBHOOK_ENV
    # The message and title name templates the same file defines.
    defined = {
        name
        for template in document["templates"]
        for name in re.findall(r'\{\{-? define "([^"]+)"', template["template"])
    }
    for key in ("title", "message"):
        used = re.findall(r'\{\{ template "([^"]+)" \. \}\}', receiver["settings"][key])
        assert used and set(used) <= defined, receiver["settings"][key]
    mute_times = {m["name"] for m in document.get("muteTimes", [])}
    routes = [route for p in document["policies"] for route in p.get("routes", [])]
    for policy in [*document["policies"], *routes]:
        assert policy["receiver"] in contact_points
        assert set(policy.get("mute_time_intervals", [])) <= mute_times
        for name in ("group_wait", "group_interval", "repeat_interval"):
            assert name not in policy or DURATION.fullmatch(policy[name])
    assert all(p["orgId"] == 1 for p in document["policies"])
    severities = {r["labels"]["severity"] for r in alert_rules()}
    routed = {m[2] for r in routes for m in r["object_matchers"] if m[:2] == ["severity", "="]}
    assert severities <= routed, "every severity has its route"
    return uids


# --- the real Grafana ------------------------------------------------------------------------
def real_grafana_check(expected: dict[str, set[str]]) -> None:
    from testcontainers.core.container import DockerContainer

    password = secrets.token_urlsafe(12)
    container = (
        DockerContainer(grafana_image())
        .with_volume_mapping(str(PROVISIONING), CONTAINER_PROVISIONING, "ro")
        .with_env("GF_SECURITY_ADMIN_PASSWORD", password)
        .with_env("DISCORD_ALERT_WEBHOOK_URL", "https://discord.invalid/api/webhooks/0/test")
        .with_exposed_ports(3000)
    )
    with container:
        base = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(3000)}"
        auth = base64.b64encode(f"admin:{password}".encode()).decode()

        def get(path: str) -> Any:
            headers = {"Authorization": f"Basic {auth}"}
            request = urllib.request.Request(base + path, headers=headers)
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)

        wait_for(lambda: get("/api/health")["database"] == "ok", 120, "grafana")
        assert {d["uid"] for d in get("/api/datasources")} == expected["datasources"]
        check_datasource_links(
            [get(f"/api/datasources/uid/{uid}") for uid in expected["datasources"]], file=False
        )
        for uid in expected["dashboards"]:
            assert get(f"/api/dashboards/uid/{uid}")["dashboard"]["uid"] == uid
        # Alert rules are provisioned a moment after the API answers.
        wait_for(
            lambda: (
                {r["uid"] for r in get("/api/v1/provisioning/alert-rules")}
                == expected["alert_rules"]
            ),
            60,
            "grafana alert rules",
        )
        points = get("/api/v1/provisioning/contact-points")
        assert any(p["type"] == "discord" for p in points)


def test_grafana_loads_provisioning(record_property: Any) -> None:
    """Grafana (or, without Docker, a stand-in named as such) accepts every provisioned file."""
    datasources = stand_in_check_datasources()
    expected = {
        "datasources": datasources,
        "dashboards": stand_in_check_dashboards(datasources),
        "alert_rules": stand_in_check_alerting(datasources),
    }
    why_not = real_grafana_unavailable()
    if why_not is None:
        real_grafana_check(expected)
        record_property("grafana_check", f"real Grafana {grafana_image()}")
    else:
        record_property("grafana_check", f"stand-in ({why_not})")
        warnings.warn(
            StandInUsed(
                f"{why_not}: checked the provisioning files structurally, not with Grafana"
            ),
            stacklevel=1,
        )


def real_grafana_unavailable() -> str | None:
    """Why the real Grafana cannot run, or None when it can.

    It waits for two things: a Docker engine that answers, and Grafana's image (the tag
    docker-compose.yml runs) already in that engine or pullable from a registry. Where no
    registry is reachable and the image cannot be built from sources we may use, the
    stand-in checks the files instead and says so.
    """
    if not docker_available():
        return "no Docker engine"
    from testcontainers.core.docker_client import DockerClient

    client = DockerClient().client
    image = grafana_image()
    try:
        client.images.get(image)
    except Exception:  # not local: try the registry, as compose would
        try:
            client.images.pull(image)
        except Exception as error:
            reason = error.__class__.__name__
            return f"Grafana image {image} is not in the engine and cannot be pulled ({reason})"
    return None
