"""The Discord webhook stand-in keeps Discord's documented Execute Webhook contract.

What it accepts, a real webhook would post; what it refuses, Discord refuses too, with
the same status and error JSON. The delivery tests trust it for exactly that.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from devstack import discord_webhook as dw
from devstack.discord_webhook import DiscordWebhook


@pytest.fixture
def hook() -> Iterator[DiscordWebhook]:
    with DiscordWebhook() as server:
        yield server


def post(
    url: str, body: Any, content_type: str = "application/json"
) -> tuple[int, Any, dict[str, str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def embed(**fields: Any) -> dict[str, Any]:
    return {"title": "t", "description": "d", **fields}


def too_long(limit: int) -> dict[str, Any]:
    return {
        "_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}
        ]
    }


def test_a_message_is_204_and_recorded(hook: DiscordWebhook) -> None:
    status, body, _ = post(hook.url, {"content": "hello"})
    assert (status, body) == (204, None)
    [message] = hook.messages
    assert message.body == {"content": "hello"}
    assert not message.wait


def test_wait_true_returns_the_message_object(hook: DiscordWebhook) -> None:
    status, body, _ = post(hook.url + "?wait=true", {"embeds": [embed(color=0x992D22)]})
    assert status == 200
    assert body["webhook_id"] == dw.WEBHOOK_ID
    assert body["author"]["bot"] is True
    assert body["embeds"] == [{"type": "rich", **embed(color=0x992D22)}]
    assert body["content"] == ""
    assert body["id"].isdigit()
    assert hook.messages[0].wait


def test_versioned_path_is_the_same_webhook(hook: DiscordWebhook) -> None:
    url = hook.url.replace("/api/webhooks/", "/api/v10/webhooks/")
    assert post(url, {"content": "x"})[0] == 204


def test_get_returns_the_webhook(hook: DiscordWebhook) -> None:
    with urllib.request.urlopen(hook.url, timeout=5) as response:
        assert json.load(response)["id"] == dw.WEBHOOK_ID


@pytest.mark.parametrize(
    ("url_part", "status", "code"),
    [
        (f"{dw.WEBHOOK_ID}/wrong-token", 401, dw.INVALID_WEBHOOK_TOKEN),
        (f"1/{dw.WEBHOOK_TOKEN}", 404, dw.UNKNOWN_WEBHOOK),
    ],
)
def test_wrong_webhook_is_refused(
    hook: DiscordWebhook, url_part: str, status: int, code: int
) -> None:
    url = f"http://{dw.LOOPBACK}:{hook.port}/api/webhooks/{url_part}"
    answer = post(url, {"content": "x"})
    assert answer[:2] == (status, {"message": answer[1]["message"], "code": code})
    assert hook.messages == []


# Exactly at each limit: accepted.
AT_LIMITS = [
    {"content": "c" * dw.CONTENT_MAX},
    {"embeds": [embed() for _ in range(dw.EMBEDS_MAX)]},
    {"embeds": [embed(title="t" * dw.TITLE_MAX)]},
    {"embeds": [{"description": "d" * dw.DESCRIPTION_MAX}]},
    {"embeds": [embed(fields=[{"name": "n", "value": "v"}] * dw.FIELDS_MAX)]},
    {
        "embeds": [
            embed(fields=[{"name": "n" * dw.FIELD_NAME_MAX, "value": "v" * dw.FIELD_VALUE_MAX}])
        ]
    },
    {"embeds": [embed(footer={"text": "f" * dw.FOOTER_MAX})]},
    {"embeds": [embed(author={"name": "a" * dw.AUTHOR_NAME_MAX})]},
    # 4,096 + 1,904 = 6,000 characters in all
    {"embeds": [{"description": "d" * 4096}, {"description": "d" * 1904}]},
    # What Alertmanager 0.25 sends: empty content beside the embed.
    {"content": "", "embeds": [embed(color=0x2ECC71)]},
    # Newer Alertmanagers send "" for the overrides they do not set.
    {"content": "x", "username": "", "avatar_url": ""},
]


@pytest.mark.parametrize("body", AT_LIMITS)
def test_at_the_limits_is_accepted(hook: DiscordWebhook, body: dict[str, Any]) -> None:
    status, error, _ = post(hook.url, body)
    assert status == 204, error
    assert dw.check_message(body) is None


# One past each limit: refused with Discord's Invalid Form Body and the field's path.
PAST_LIMITS = [
    ({"content": "c" * (dw.CONTENT_MAX + 1)}, {"content": too_long(dw.CONTENT_MAX)}),
    ({"embeds": [embed()] * (dw.EMBEDS_MAX + 1)}, {"embeds": too_long(dw.EMBEDS_MAX)}),
    (
        {"embeds": [embed(title="t" * (dw.TITLE_MAX + 1))]},
        {"embeds": {"0": {"title": too_long(dw.TITLE_MAX)}}},
    ),
    (
        {"embeds": [embed(), {"description": "d" * (dw.DESCRIPTION_MAX + 1)}]},
        {"embeds": {"1": {"description": too_long(dw.DESCRIPTION_MAX)}}},
    ),
    (
        {"embeds": [embed(fields=[{"name": "n", "value": "v"}] * (dw.FIELDS_MAX + 1))]},
        {"embeds": {"0": {"fields": too_long(dw.FIELDS_MAX)}}},
    ),
    (
        {"embeds": [embed(fields=[{"name": "n" * (dw.FIELD_NAME_MAX + 1), "value": "v"}])]},
        {"embeds": {"0": {"fields": {"0": {"name": too_long(dw.FIELD_NAME_MAX)}}}}},
    ),
    (
        {"embeds": [embed(fields=[{"name": "n", "value": "v" * (dw.FIELD_VALUE_MAX + 1)}])]},
        {"embeds": {"0": {"fields": {"0": {"value": too_long(dw.FIELD_VALUE_MAX)}}}}},
    ),
    (
        {"embeds": [embed(footer={"text": "f" * (dw.FOOTER_MAX + 1)})]},
        {"embeds": {"0": {"footer": {"text": too_long(dw.FOOTER_MAX)}}}},
    ),
    (
        {"embeds": [embed(author={"name": "a" * (dw.AUTHOR_NAME_MAX + 1)})]},
        {"embeds": {"0": {"author": {"name": too_long(dw.AUTHOR_NAME_MAX)}}}},
    ),
    (
        {"embeds": [{"description": "d" * 4096}, {"description": "d" * 1905}]},
        {
            "embeds": {
                "_errors": [
                    {
                        "code": "MAX_EMBED_SIZE_EXCEEDED",
                        "message": "Embed size exceeds maximum size of 6000",
                    }
                ]
            }
        },
    ),
    (
        {"embeds": [embed(fields=[{"name": "n"}])]},
        {
            "embeds": {
                "0": {
                    "fields": {
                        "0": {
                            "value": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_REQUIRED",
                                        "message": "This field is required",
                                    }
                                ]
                            }
                        }
                    }
                }
            }
        },
    ),
    (
        {"content": 5},
        {"content": {"_errors": [{"code": "BASE_TYPE_STRING", "message": "Must be a string."}]}},
    ),
]


@pytest.mark.parametrize(("body", "errors"), PAST_LIMITS)
def test_past_the_limits_is_refused(
    hook: DiscordWebhook, body: dict[str, Any], errors: dict[str, Any]
) -> None:
    status, error, _ = post(hook.url + "?wait=true", body)
    assert status == 400
    assert error == {"code": dw.INVALID_FORM_BODY, "errors": errors, "message": "Invalid Form Body"}
    assert hook.messages == []
    assert [r.status for r in hook.requests] == [400]


@pytest.mark.parametrize("body", [{}, {"content": ""}, {"content": "", "embeds": []}])
def test_an_empty_message_is_refused(hook: DiscordWebhook, body: dict[str, Any]) -> None:
    assert post(hook.url, body)[:2] == (
        400,
        {"code": dw.EMPTY_MESSAGE, "message": "Cannot send an empty message"},
    )


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b"{not json", "application/json"), (b'"a string"', "application/json"), (b"x", "text/plain")],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    hook: DiscordWebhook, raw: bytes, content_type: str
) -> None:
    status, error, _ = post(hook.url, raw, content_type)
    assert (status, error["code"]) == (400, dw.INVALID_JSON)


def test_rate_limit_answers_429_with_retry_after(hook: DiscordWebhook) -> None:
    """Past the bucket: Discord's 429 body and headers; a refill lets the next one through."""
    hook.rate_limit(2, window=0.5)
    first = [post(hook.url, {"content": str(i)}) for i in range(3)]
    assert [status for status, _, _ in first] == [204, 204, 429]
    _, body, headers = first[2]
    assert body["message"] == "You are being rate limited."
    assert body["global"] is False
    assert isinstance(body["retry_after"], float)
    assert 0 < body["retry_after"] <= 0.5
    assert headers["Retry-After"] == "1"  # whole seconds, rounded up
    assert headers["X-RateLimit-Limit"] == "2"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert float(headers["X-RateLimit-Reset-After"]) <= 0.5
    assert float(headers["X-RateLimit-Reset"]) > 0
    assert first[0][2]["X-RateLimit-Remaining"] == "1"
    # A 429 posts nothing.
    assert [m.body["content"] for m in hook.messages] == ["0", "1"]
    time.sleep(body["retry_after"] + 0.05)
    assert post(hook.url, {"content": "3"})[0] == 204
    hook.rate_limit(None)
    assert all(post(hook.url, {"content": "x"})[0] == 204 for _ in range(5))


def test_rate_limit_comes_before_validation(hook: DiscordWebhook) -> None:
    """Discord counts a request against the bucket before reading its body."""
    hook.rate_limit(0)
    assert post(hook.url, {})[0] == 429
