"""A Discord webhook stand-in on loopback: Discord's Execute Webhook contract, recorded.

Alertmanager and Grafana notify Discord through a webhook URL; here that URL points at
this server, so the notification path runs for real without the network. It accepts and
rejects what Discord's documented webhook contract does (a JSON body; ``content`` up to
2,000 characters; up to 10 embeds, each within Discord's embed limits and 6,000
characters in all; at least one of ``content`` and ``embeds``), answers ``?wait=true``
with the message object and anything else with 204, and answers what Discord refuses
with Discord's error JSON. A rate limit can be switched on: Discord's 429 with
``retry_after`` in the body and ``Retry-After``/``X-RateLimit-*`` headers.

Every request is recorded (:attr:`DiscordWebhook.requests`), so tests read what a
channel would show (:attr:`DiscordWebhook.messages`) and what was refused. Run as a
program (``python -m devstack.discord_webhook --port N``) it prints each accepted message
as one JSON line: the demo's stand-in channel.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.process import LOOPBACK, Process, http_ok

WEBHOOK_ID = "1100000000000000001"
WEBHOOK_TOKEN = "stand-in-token"  # not a secret: the last part of the stand-in's URL

# Discord's documented limits (Execute Webhook, Embed Limits).
CONTENT_MAX = 2000
USERNAME_MAX = 80
EMBEDS_MAX = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000
COLOR_MAX = 0xFFFFFF

# Discord's JSON error codes for what a webhook refuses.
UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027
EMPTY_MESSAGE = 50006
INVALID_FORM_BODY = 50035
INVALID_JSON = 50109

_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(?P<id>[^/]+)/(?P<token>[^/]+)/?$")

Errors = dict[str, Any]  # Discord's nested {"field": {"0": {"_errors": [...]}}} shape


@dataclass(frozen=True)
class Request:
    """One request as the stand-in answered it."""

    received: float  # time.time()
    path: str
    wait: bool
    body: Any  # the parsed JSON, or None when it did not parse
    status: int
    response: Any  # the JSON answered, None for 204


@dataclass
class RateLimit:
    """Discord's per-webhook bucket: ``limit`` requests per ``window`` seconds."""

    limit: int
    window: float
    used: int = 0
    resets: float = 0.0  # time.monotonic() when the bucket refills

    def take(self, now: float) -> float:
        """0.0 when a request may pass (and counts it), else the seconds until it may."""
        if now >= self.resets:
            self.used, self.resets = 0, now + self.window
        if self.used < self.limit:
            self.used += 1
            return 0.0
        return self.resets - now


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Request] = field(default_factory=list)
    rate_limit: RateLimit | None = None
    next_id: int = 1200000000000000000


def _too_long(limit: int) -> Errors:
    return {
        "_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}
        ]
    }


def _error(code: str, message: str) -> Errors:
    return {"_errors": [{"code": code, "message": message}]}


def _string(errors: Errors, key: str, value: Any, limit: int, required: bool = False) -> int:
    """Check one string field into ``errors``; its length (0 when absent or wrong)."""
    if value is None:
        if required:
            errors[key] = _error("BASE_TYPE_REQUIRED", "This field is required")
        return 0
    if not isinstance(value, str):
        errors[key] = _error("BASE_TYPE_STRING", "Must be a string.")
        return 0
    if required and not value:
        errors[key] = _error("BASE_TYPE_REQUIRED", "This field is required")
    if len(value) > limit:
        errors[key] = _too_long(limit)
    return len(value)


def _embed(embed: Any) -> tuple[Errors, int]:
    """Errors of one embed and the characters it counts toward the 6,000 total."""
    if not isinstance(embed, dict):
        return _error("MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"), 0
    errors: Errors = {}
    size = _string(errors, "title", embed.get("title"), TITLE_MAX)
    size += _string(errors, "description", embed.get("description"), DESCRIPTION_MAX)
    color = embed.get("color")
    if color is not None and (
        not isinstance(color, int) or isinstance(color, bool) or not 0 <= color <= COLOR_MAX
    ):
        errors["color"] = _error("NUMBER_TYPE_MAX", f"int value should be <= {COLOR_MAX}.")
    for key, inner, limit in (("footer", "text", FOOTER_MAX), ("author", "name", AUTHOR_NAME_MAX)):
        part = embed.get(key)
        if part is None:
            continue
        if not isinstance(part, dict):
            errors[key] = _error("MODEL_TYPE_CONVERT", "Only dictionaries may be used")
            continue
        part_errors: Errors = {}
        size += _string(part_errors, inner, part.get(inner), limit, required=True)
        if part_errors:
            errors[key] = part_errors
    fields = embed.get("fields")
    if fields is not None:
        if not isinstance(fields, list):
            errors["fields"] = _error("BASE_TYPE_ARRAY", "Must be an array.")
        elif len(fields) > FIELDS_MAX:
            errors["fields"] = _too_long(FIELDS_MAX)
        else:
            field_errors: Errors = {}
            for index, item in enumerate(fields):
                one: Errors = {}
                if not isinstance(item, dict):
                    field_errors[str(index)] = _error("MODEL_TYPE_CONVERT", "Must be an object.")
                    continue
                size += _string(one, "name", item.get("name"), FIELD_NAME_MAX, required=True)
                size += _string(one, "value", item.get("value"), FIELD_VALUE_MAX, required=True)
                if one:
                    field_errors[str(index)] = one
            if field_errors:
                errors["fields"] = field_errors
    return errors, size


def check_message(body: Any) -> tuple[int, dict[str, Any]] | None:
    """Why Discord would refuse this Execute Webhook body: (HTTP status, error JSON), or None."""
    if not isinstance(body, dict):
        return 400, {"code": INVALID_JSON, "message": "The request body contains invalid JSON."}
    errors: Errors = {}
    content = body.get("content")
    _string(errors, "content", content, CONTENT_MAX)
    # Alertmanager sends "" for the overrides it does not set; Discord takes "" as unset.
    _string(errors, "username", body.get("username") or None, USERNAME_MAX)
    _string(errors, "avatar_url", body.get("avatar_url") or None, 2048)
    embeds = body.get("embeds")
    if embeds is not None:
        if not isinstance(embeds, list):
            errors["embeds"] = _error("BASE_TYPE_ARRAY", "Must be an array.")
        elif len(embeds) > EMBEDS_MAX:
            errors["embeds"] = _too_long(EMBEDS_MAX)
        else:
            embed_errors: Errors = {}
            total = 0
            for index, embed in enumerate(embeds):
                one, size = _embed(embed)
                total += size
                if one:
                    embed_errors[str(index)] = one
            if embed_errors:
                errors["embeds"] = embed_errors
            elif total > EMBED_TOTAL_MAX:
                errors["embeds"] = _error(
                    "MAX_EMBED_SIZE_EXCEEDED",
                    f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
                )
    if errors:
        return 400, {"code": INVALID_FORM_BODY, "errors": errors, "message": "Invalid Form Body"}
    if not (isinstance(content, str) and content) and not embeds:
        return 400, {"code": EMPTY_MESSAGE, "message": "Cannot send an empty message"}
    return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # the record is the log

    def _answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _webhook(self) -> tuple[int, dict[str, Any]] | None:
        """The error for a path that is not this webhook, or None."""
        match = _PATH.match(urlsplit(self.path).path)
        if match is None:
            return 404, {"message": "404: Not Found", "code": 0}
        if match["id"] != WEBHOOK_ID:
            return 404, {"message": "Unknown Webhook", "code": UNKNOWN_WEBHOOK}
        if match["token"] != WEBHOOK_TOKEN:
            return 401, {"message": "Invalid Webhook Token", "code": INVALID_WEBHOOK_TOKEN}
        return None

    def do_GET(self) -> None:
        """Get Webhook with Token: the webhook object (the demo's readiness check)."""
        error = self._webhook()
        if error is not None:
            self._answer(*error)
            return
        self._answer(
            200,
            {"id": WEBHOOK_ID, "type": 1, "name": "dbsbm alerts", "token": WEBHOOK_TOKEN},
        )

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        query = parse_qs(urlsplit(self.path).query)
        wait = query.get("wait", ["false"])[-1].lower() == "true"
        try:
            body: Any = json.loads(raw) if "json" in self.headers.get("Content-Type", "") else None
        except ValueError:
            body = None
        with state.lock:
            status, response, headers = self._decide(state, body, wait)
            state.requests.append(Request(time.time(), self.path, wait, body, status, response))
        self._answer(status, response, headers)
        if status < 300 and self.server.echo:
            print(json.dumps(body), flush=True)

    def _decide(self, state: _State, body: Any, wait: bool) -> tuple[int, Any, dict[str, str]]:
        error = self._webhook()
        if error is not None:
            return error[0], error[1], {}
        headers: dict[str, str] = {}
        limit = state.rate_limit
        if limit is not None:
            now = time.monotonic()
            retry_after = limit.take(now)
            reset_after = max(limit.resets - now, 0.0)
            headers = {
                "X-RateLimit-Bucket": f"webhook-{WEBHOOK_ID}",
                "X-RateLimit-Limit": str(limit.limit),
                "X-RateLimit-Remaining": str(max(limit.limit - limit.used, 0)),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            }
            if retry_after:
                headers["Retry-After"] = str(math.ceil(retry_after))
                headers["X-RateLimit-Scope"] = "user"
                return (
                    429,
                    {
                        "message": "You are being rate limited.",
                        "retry_after": round(retry_after, 3),
                        "global": False,
                    },
                    headers,
                )
        refused = check_message(body)
        if refused is not None:
            return refused[0], refused[1], headers
        if not wait:
            return 204, None, headers
        state.next_id += 1
        return 200, _message(str(state.next_id), body), headers


def _message(message_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The message object Discord returns for ``?wait=true``."""
    return {
        "id": message_id,
        "type": 0,
        "channel_id": "1100000000000000002",
        "webhook_id": WEBHOOK_ID,
        "author": {
            "id": WEBHOOK_ID,
            "username": body.get("username") or "dbsbm alerts",
            "bot": True,
        },
        "content": body.get("content") or "",
        "embeds": [{"type": "rich", **e} for e in body.get("embeds") or []],
        "timestamp": datetime.now(UTC).isoformat(),
        "tts": bool(body.get("tts", False)),
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "pinned": False,
        "flags": 0,
        "components": [],
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: _State, echo: bool) -> None:
        super().__init__((LOOPBACK, port), _Handler)
        self.state = state
        self.echo = echo


class DiscordWebhook:
    """The stand-in, served from a thread; a context manager that stops it on exit."""

    def __init__(self, port: int = 0, *, echo: bool = False) -> None:
        self._state = _State()
        self._server = _Server(port, self._state, echo)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The webhook URL to configure a notifier with."""
        return webhook_url(self.port)

    @property
    def requests(self) -> list[Request]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def messages(self) -> list[Request]:
        """The requests Discord would have posted to the channel."""
        return [r for r in self.requests if r.status < 300]

    def rate_limit(self, limit: int | None, window: float = 2.0) -> None:
        """Answer 429 past ``limit`` requests per ``window`` seconds; None switches it off."""
        with self._state.lock:
            self._state.rate_limit = None if limit is None else RateLimit(limit, window)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DiscordWebhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def webhook_url(port: int) -> str:
    """The stand-in's webhook URL on ``port``."""
    return f"http://{LOOPBACK}:{port}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"


def discord_webhook_process(port: int, log: Path) -> Process:
    """The stand-in as a child process; each accepted message is a JSON line in ``log``."""
    return Process(
        "discord-webhook",
        [sys.executable, "-m", "devstack.discord_webhook", "--port", str(port)],
        lambda: http_ok(webhook_url(port)),
        log,
        {"PYTHONUNBUFFERED": "1"},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="loopback port to listen on")
    args = parser.parse_args(argv)
    try:
        server = DiscordWebhook(args.port, echo=True)
    except OSError as exc:
        print(f"discord_webhook: cannot listen on {LOOPBACK}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(f"discord_webhook: {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
