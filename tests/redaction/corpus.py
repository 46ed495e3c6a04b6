"""The leak corpus: secret shapes that must never leave, and look-alikes that must arrive intact.

Each secret case is a text with one planted secret value (JSON-safe, so a leak is found
by substring in any sink file); the value is unique per case, so a leak names its case.
"""

from __future__ import annotations

from typing import NamedTuple


class Secret(NamedTuple):
    name: str
    text: str
    secret: str


# A Discord bot token's shape (not a real token).
DISCORD_TOKEN = "MTA1234567890123456789012.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456"
_B64_40 = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
_PEM_BODY = (
    "MIIEowIBAAKCAQEA7bq9rQ2l1f0examplePrivateKeyBodyLine1\\n"
    "Zm9vYmFyYmF6cXV4examplePrivateKeyBodyLine2"
)


def _cases() -> list[Secret]:
    # (name, template with {s}, secret)
    raw = [
        ("discord bot token", "connecting with {s}", DISCORD_TOKEN),
        (
            "discord token after Bot",
            "Authorization: Bot {s}",
            "NzkyNzE1NDU0MTk2MDg4ODQy.X-hvzA.Ovy4MCQywSkoMRRclStW4xAYK7I",
        ),
        (
            "discord webhook url",
            "posting to https://discord.com/api/webhooks/1234567890/{s}",
            "AbCdEf_GhIjKlMnOp-QrStUvWxYz0123456789abcdefghijklmnopqrstuvwx",
        ),
        (
            "discordapp webhook url",
            "webhook=https://discordapp.com/api/v10/webhooks/987654321/{s}?wait=true",
            "zYxWvUtSrQpOnMlKjIhGfEdCbA9876543210zyxwvutsrq",
        ),
        (
            "slack webhook url",
            "alert via https://hooks.slack.com/services/T000A0000/B000B0000/{s}",
            "XXXXXXXXXXXXXXXXXXXXxxxx",
        ),
        ("password=value", "login password={s}&user=bob", "hunter2pass"),
        ("PASSWORD env line", "MYSQL_PASSWORD={s} ok", "abc123MysqlPw"),
        ("password with spaces, unquoted", "login password={s} user=bob", "two words pw"),
        ("env password with spaces to the end", "MYSQL_PASSWORD={s}", "correct horse 42"),
        (
            "second credential pair after a spaced one",
            "user=bob api_key=first key value token={s} ok=1",
            "second pair pw",
        ),
        (
            "json password with spaces",
            'payload {{"password": "{s}", "user": "bob"}}',
            "correct horse battery staple",
        ),
        ("python dict password", "{{'db_password': '{s}'}}", "dictPw 42 with spaces"),
        ("yaml-like password with spaces", "password: {s}", "my very secret phrase 9"),
        ("key: value token", "token: {s}", "tkn-0a1b2c3d4e5f"),
        ("quoted password= in SQL", "SELECT 1 FROM users WHERE password='{s}'", "sqlLiteralPw1"),
        (
            "password in UPDATE SET",
            "UPDATE users SET password = '{s}' WHERE id = 7",
            "setPw 77 spaced",
        ),
        (
            "api_key query parameter",
            "GET https://api.example.com/v1/odds?api_key={s}&league=39",
            "qparamKey123456",
        ),
        ("apikey header line", "x-apisports-key: {s}", "deadbeef1234apisports"),
        ("rapidapi key dict", "{{'X-RapidAPI-Key': '{s}'}}", "rapid0987654321abcdef"),
        ("x-api-key json", '{{"x-api-key":"{s}"}}', "xApiKey5566778899"),
        ("Authorization Bearer header", "Authorization: Bearer {s}", "abc.def-123bearer"),
        ("Authorization Basic header", "Authorization: Basic {s}", "dXNlcjpwYXNzd29yZA=="),
        ("Authorization dict Bot", "headers={{'Authorization': 'Bot {s}'}}", "xyz987botvalue"),
        ("Authorization without scheme", '"authorization": "{s}"', "rawAuthValue000111"),
        ("Proxy-Authorization", "Proxy-Authorization: Basic {s}", "cHJveHk6cHJveHlwdw=="),
        ("standalone Bearer", "retrying with bearer {s}", "4f3c2a1b9e8d7c6b5a4f"),
        ("mysql dsn", "mysql://dbsbm:{s}@db:3306/bets", "s3cr3tDsnPw"),
        ("redis url no user", "redis://:{s}@cache:6379/0", "r3disPassw0rd"),
        ("postgres url password with @", "postgresql://app:{s}@db.internal/app", "p@ssw0rd@x"),
        ("amqp url", "connecting amqp://guest:{s}@rabbit:5672/", "amqpPw998877"),
        ("https basic auth url", "fetch https://user:{s}@example.com/feed", "httpsUrlPw55"),
        ("aws access key id", "using key {s} for s3", "AKIAIOSFODNN7EXAMPLE"),
        ("aws temporary key id", "assumed {s}", "ASIAY34FZKBOKMUTVV7A"),
        ("aws_secret_access_key=", "aws_secret_access_key={s}", _B64_40),
        (
            "aws secret beside key word",
            "AWS secret access key {s}",
            "Zx9/Yw8+Vu7TsRq6PoNm5LkJi4HgFe3DcBa2ZyXw",
        ),
        (
            "aws quoted secret (detect-secrets)",
            'aws_key = "{s}"',
            "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd",
        ),
        (
            "private key block",
            "-----BEGIN RSA PRIVATE KEY-----\\n{s}\\n-----END RSA PRIVATE KEY-----",
            _PEM_BODY,
        ),
        (
            "openssh private key",
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{s}\n-----END OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
        ),
        ("jwt", "session {s} issued", _JWT),
        ("github token", "GITHUB_TOKEN is {s}", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
        (
            "github fine-grained token",
            "using {s}",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        ),
        ("gitlab token", "gitlab {s}", "glpat-AbCdEfGhIjKlMnOpQrSt"),
        (
            "slack bot token",
            "slack client {s}",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        ),
        ("stripe live key", "charging with {s}", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("openai project key", "llm key {s}", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
        ("anthropic key", "model via {s}", "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123"),
        (
            "sendgrid key",
            "mail {s}",
            "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",
        ),
        ("google api key", "maps {s}", "AIzaSyD-1234567890abcdefghijklmnopqrstu"),
        ("npm token", "registry {s}", "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
        (
            "pypi token",
            "upload {s}",
            "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMAACKlsz",
        ),
        ("telegram bot token", "telegram bot {s}", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"),
        ("mailchimp key", "mailchimp {s}", "0123456789abcdef0123456789abcdef-us12"),
        ("token hex beside word", "api token {s}", "0123456789abcdef0123456789abcdef"),
        ("secret beside word", "client secret is {s}", "Q2xpZW50U2VjcmV0VmFsdWUxMjM0"),
        ("client_secret=", "oauth client_secret={s}", "cs_9f8e7d6c5b4a"),
        ("refresh_token json", '{{"refresh_token": "{s}"}}', "rt.0a9b8c7d6e5f"),
        ("cookie header", "Cookie: {s}", "sessionid=abcdef0123456789; csrftoken=zzz"),
        ("set-cookie header", "Set-Cookie: {s}", "sid=SeSsIoN998877; HttpOnly"),
        ("session_id pair", "session_id={s}", "sess0011223344"),
        ("passphrase", "passphrase = '{s}'", "four words passphrase here"),
        ("passwd colon no space", "passwd:{s}", "colonNoSpacePw"),
        ("pwd env", "PWD={s}", "pwdValue123"),
        (
            "azure AccountKey",
            "DefaultEndpointsProtocol=https;AccountName=x;AccountKey={s};EndpointSuffix=core",
            "YXp1cmVTdG9yYWdlS2V5MTIzNDU2Nzg5MA==",
        ),
        ("private_key json", '{{"private_key": "{s}"}}', "pkJsonValue000"),
        ("credential pair", "credentials={s}", "credValue4455"),
        (
            "json-escaped password in a json line",
            '{{"message": "{{\\"password\\": \\"{s}\\"}}"}}',
            "escapedPw 11",
        ),
        (
            "mysql syntax error echo",
            'pymysql.err.ProgrammingError: (1064, "You have an error in your SQL syntax; '
            "check the manual that corresponds to your MariaDB server version for the right "
            "syntax to use near '{s}' WHERE id=1' at line 1\")",
            "hunter2syntax",
        ),
        (
            "mysql duplicate entry",
            "IntegrityError: (1062, \"Duplicate entry '{s}' for key 'users.api_token'\")",
            "dupEntryValue42",
        ),
        ("create user identified by", "CREATE USER 'bot'@'%' IDENTIFIED BY '{s}'", "identifiedPw1"),
        ("password starting with $", "password=${s}", "dollarStartPw"),
        ("password in exception message", "auth failed: password={s}", "excMsgPw8"),
    ]
    return [Secret(name, template.format(s=secret), secret) for name, template, secret in raw]


SECRETS: list[Secret] = _cases()

# Values stored under keys that name a credential: masked whole whatever they look like.
FIELD_SECRETS: dict[str, str] = {
    "db_password": "fieldDbPw 1",
    "api_key": "fieldApiKey2",
    "http.request.header.x_apisports_key": "fieldHeader3",
    "discord_token": "fieldTok4",
    "aws_secret_access_key": "fieldAws5",
    "cookie": "fieldCookie6",
}

# Look-alikes: ids, hashes, timestamps, URLs and SQL that must arrive exactly as written.
CLEAN: list[str] = [
    "user 123456789 placed bet of 50.5 on game 'Lakers' at 2026-12-02",
    "user 123 placed bet 99 on fixture 1234 odds 2.5",
    "cache key: bets:guild:1 monkey=2",
    "SELECT id FROM users WHERE password = %s",
    "SELECT id FROM users WHERE password = %(password)s AND token = ?",
    "UPDATE users SET password_hash = $1 WHERE id = :id",
    "GET https://v3.football.api-sports.io/fixtures?league=39&season=2026 took 0.2s",
    "http://collector:4318/v1/traces",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "order 8f14e45f-ceea-467f-a0e6-3b5b1c2d9e10 confirmed",
    "sha256 of the odds feed: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "md5 d41d8cd98f00b204e9800998ecf8427e",
    "git commit 3f786850e387550fdab836ed7e6dc881de23001b deployed",
    "timestamp 2026-12-02T05:29:10.644Z level=info",
    "started at 1764653350.123 (epoch), took 12.5 ms",
    "guild 123456789012345678 channel 987654321098765432",
    "message id 1180000000000000000 edited",
    "bet placed: {'user': 42, 'amount': 50.5, 'odds': 2.1, 'game': 'Lakers vs Celtics'}",
    '{"event": "bet", "user_id": 42, "amount": 10.0, "currency": "EUR"}',
    '{"fixture": {"id": 1035048, "date": "2026-12-02T20:00:00+00:00", "venue": "Anfield"}}',
    "[1, 2, 3] and (4, 5) with {'nested': [6, 7]}",
    "password reset requested for user 42",
    "token bucket refilled: 5 of 10 left",
    "rate limit: 30 requests per 60 s, retry after 2.5 s",
    "max_tokens exceeded? no",
    "secret santa event starts 2026-12-24",
    "the bearer of good news",
    "author: alice, reviewer: bob",
    "Loaded 12 cogs in 0.52 s; syncing application commands for 3 guilds",
    "Shard 0 connected to gateway wss://gateway.discord.gg/?v=10&encoding=json",
    "https://discord.com/channels/123456789012345678/987654321098765432",
    "https://discord.com/api/v10/applications/123/commands returned 200",
    "redis://cache:6379/0 connected",
    "mysql://db:3306/bets reachable",
    "postgresql://db.internal:5432/app",
    "path /home/bot/config/settings.yaml loaded",
    "C:\\Users\\bot\\logs\\bot.log rotated",
    "value with unicode: café, naïve, 東京, emoji-free",
    "quotes: 'single' \"double\" `back`",
    "tabs\tand\nnewlines\nkept",
    "percent 100% done, 50% left, 5%s literal",
    "odds 1.95 / 2.10 / 3.40 for 1X2",
    "IPv4 10.0.0.12:3306 and IPv6 [::1]:6379",
    "email alice@example.com notified",
    "user@host:~$ ls",
    "SELECT * FROM bets WHERE user_id = 42 AND created_at > '2026-12-01'",
    "INSERT INTO bets (user_id, amount) VALUES (%s, %s)",
    "keyboard interrupt received, shutting down",
    "monkey=2 donkey=3 keyring=enabled",
    "tokenizer loaded in 0.1 s",
    "passport number check skipped",
    "hash 5d41402abc4b2a76b9719d911017c592 cached",
    "base64 aGVsbG8gd29ybGQ= decoded",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "ISO week 2026-W49, day 3",
    "cron 0 */5 * * * next run 06:00:00",
    "**bold** markdown and *italics*",
    "version 1.2.3-beta+build.45",
    "latency p95=180ms p99=420ms target<200ms",
    "HTTP/1.1 200 OK content-length=1532",
    "A short sentence. Another one.",
    "AKIA is not a key on its own",
]
