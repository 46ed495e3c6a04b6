"""Notifications: the Discord message templates, and Alertmanager's routes and inhibitions.

The templates are Go templates that use only what Alertmanager and Grafana both hand to a
notification template (``.Status``, ``.Alerts.Firing``/``.Resolved``, ``.CommonLabels``,
``.CommonAnnotations``, each alert's ``.Annotations``, ``.StartsAt``, ``.EndsAt``), so the
same text is Alertmanager's ``deploy/alertmanager/dbsbm.tmpl`` and the template Grafana's
provisioning defines. The message reads the annotations every rule carries (see
``model.Alert.annotations``): summary, description (value and target), runbook and
dashboard links.

Discord's limits decide the shape: Alertmanager 0.25 sends the message as an embed
description (4,096 characters) and Grafana as the message content (2,000), so a message
lists at most ``MAX_FIRING`` firing and ``MAX_RESOLVED`` resolved instances and says how
many there are; tests/deploy/test_alerting.py renders the worst case and checks it fits.
Alertmanager 0.25 has no content field: its role mention is shown but does not ping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbsbm_mixin import config as c
from dbsbm_mixin.alerts import ALERTS
from dbsbm_mixin.output import yaml_text

ALERTMANAGER_DIR = Path("deploy/alertmanager")
TEMPLATE_FILE = "dbsbm.tmpl"
TITLE = "dbsbm.title"
MESSAGE = "dbsbm.message"
MAX_FIRING = 3
MAX_RESOLVED = 2
TIME_FORMAT = "2006-01-02 15:04 MST"  # Go's reference time

_ROLE = f"${{{c.DISCORD_ROLE_ENV}}}"

# Plain text, not an f-string, so the Go template reads as Go; the @NAME@ tokens are filled
# in below. Lines ending in a backslash continue (the joined text has no newline there). No
# environment variable in here: neither Alertmanager nor Grafana expands them in templates.
_TEMPLATES = """\
{{ define "@TITLE@" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] \
{{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})
{{- end }}

{{ define "dbsbm.instance" -}}
- {{ .Annotations.description }} \
{{ if eq .Status "firing" }}(since {{ .StartsAt.Format "@TIME@" }})\
{{ else }}(resolved {{ .EndsAt.Format "@TIME@" }}){{ end }}
{{ end }}

{{ define "dbsbm.firing" -}}
{{ if gt (len .) @MAX_FIRING@ }}\
{{ range slice . 0 @MAX_FIRING@ }}{{ template "dbsbm.instance" . }}{{ end }}\
(@MAX_FIRING@ of {{ len . }} shown)
{{ else }}{{ range . }}{{ template "dbsbm.instance" . }}{{ end }}{{ end }}
{{- end }}

{{ define "dbsbm.resolved" -}}
{{ if gt (len .) @MAX_RESOLVED@ }}\
{{ range slice . 0 @MAX_RESOLVED@ }}{{ template "dbsbm.instance" . }}{{ end }}\
(@MAX_RESOLVED@ of {{ len . }} shown)
{{ else }}{{ range . }}{{ template "dbsbm.instance" . }}{{ end }}{{ end }}
{{- end }}

{{ define "@MESSAGE@" -}}
**{{ .CommonLabels.severity | toUpper }}** {{ .CommonAnnotations.summary }}
{{ if .Alerts.Firing }}**Firing**
{{ template "dbsbm.firing" .Alerts.Firing }}{{ end -}}
{{ if .Alerts.Resolved }}**Resolved**
{{ template "dbsbm.resolved" .Alerts.Resolved }}{{ end -}}
[Runbook]({{ .CommonAnnotations.runbook_url }}) · \
[Dashboard]({{ .CommonAnnotations.dashboard_url }})
{{- end }}
"""
TEMPLATES = (
    _TEMPLATES.replace("@TITLE@", TITLE)
    .replace("@MESSAGE@", MESSAGE)
    .replace("@TIME@", TIME_FORMAT)
    .replace("@MAX_FIRING@", str(MAX_FIRING))
    .replace("@MAX_RESOLVED@", str(MAX_RESOLVED))
)

# The receiver's message: the role mention, then the shared template. Neither Alertmanager
# nor Grafana expands the environment in template files, but both configurations' values
# get it (render.sh for Alertmanager, Grafana's provisioning itself), so the mention is here.
MESSAGE_FIELD = (
    f'{{{{ if and (eq .Status "firing") (eq .CommonLabels.severity "critical") '
    f'(ne "{_ROLE}" "") }}}}<@&{_ROLE}>\n{{{{ end }}}}{{{{ template "{MESSAGE}" . }}}}'
)
TITLE_FIELD = f'{{{{ template "{TITLE}" . }}}}'


def inhibit_equal() -> list[str]:
    """Labels a critical alert and the warning it silences share: the alert name and every
    label that tells instances apart (the test cases' firing labels), but not severity or
    a rule's own static labels (a critical burn-rate pair silences the slower warning pair).
    """
    static = {"severity", *(k for a in ALERTS for r in a.rules for k in r.labels)}
    found = {
        label
        for alert in ALERTS
        for case in alert.tests
        for at in case.expect
        for fires in at.fires
        for label in fires.labels
    }
    return ["alertname", *sorted(found - static)]


def alertmanager() -> str:
    routes = [
        {
            "receiver": route.receiver,
            "matchers": [f'severity="{route.severity}"'],
            "group_wait": route.group_wait,
            "repeat_interval": route.repeat_interval,
        }
        for route in c.ROUTES
    ]
    discord = {
        "webhook_url": f"${{{c.DISCORD_WEBHOOK_ENV}}}",
        "title": TITLE_FIELD,
        "message": MESSAGE_FIELD,
        "send_resolved": True,
    }
    document: dict[str, Any] = {
        "route": {
            # Unknown severities still reach Discord rather than vanish.
            "receiver": c.CONTACT_POINT,
            "group_by": list(c.NOTIFY_GROUP_BY),
            "group_wait": c.NOTIFY_GROUP_WAIT,
            "group_interval": c.NOTIFY_GROUP_INTERVAL,
            "repeat_interval": "4h",
            "routes": routes,
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": inhibit_equal(),
            }
        ],
        "receivers": [
            {"name": c.CONTACT_POINT, "discord_configs": [discord]},
            {"name": c.SILENT_RECEIVER},
        ],
        "templates": [TEMPLATE_FILE],
    }
    return ALERTMANAGER_HEADER + yaml_text(document)


ALERTMANAGER_HEADER = f"""\
# Generated by deploy/mixin/generate.py from deploy/mixin/dbsbm_mixin/ (config.py, notify.py).
# Do not edit. Alertmanager does not expand environment variables: run
#   deploy/alertmanager/render.sh OUTPUT_DIR
# which writes this file with ${c.DISCORD_WEBHOOK_ENV} (required) and ${c.DISCORD_ROLE_ENV}
# (optional) substituted, and {TEMPLATE_FILE} beside it; then start Alertmanager on OUTPUT_DIR.
"""


def files() -> dict[Path, str]:
    template_header = (
        "{{/* Generated by deploy/mixin/generate.py from deploy/mixin/dbsbm_mixin/notify.py. "
        "Do not edit. */}}\n"
    )
    return {
        ALERTMANAGER_DIR / "alertmanager.yml": alertmanager(),
        ALERTMANAGER_DIR / TEMPLATE_FILE: template_header + TEMPLATES,
    }
