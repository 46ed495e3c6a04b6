"""Safe code next to credentials: env reads, placeholders, names about secrets, ids, hashes."""

import hashlib
import os
import uuid

API_KEY = os.environ["API_SPORTS_KEY"]
API_KEYS = {"football": os.getenv("FOOTBALL_KEY"), "nba": os.environ.get("NBA_KEY")}
headers = {"x-apisports-key": API_KEY, "Accept": "application/json"}
MYSQL_PASSWORD = os.getenv("MYSQL_PASSWORD")
REDIS_PASSWORD = os.getenv("REDIS_PASSWORD", "")
password = ""
TOKEN_URL = "https://discord.com/api/oauth2/token"
token_type = "Bearer"
PASSWORD_FIELD = "password"
API_KEY_HEADER = "x-apisports-key"
API_KEY_ENV = "API_SPORTS_KEY"
TOKEN_ENV_VAR = "DISCORD_TOKEN"
SECRET_NAME = "dbsbm/prod/mysql"
DSN_TEMPLATE = "mysql://{user}:{password}@{host}/{db}"
example_config = {"password": "${MYSQL_PASSWORD}", "token": "<your-token-here>"}
prompt = {"password": "Enter your password to continue"}
BUILD_SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
REQUEST_ID = "3f2b8a1e-9c4d-4e5f-8a7b-1c2d3e4f5a6b"
cache_key = "user:12345:bets"
CACHE_KEYS = {"odds": "odds:{sport}:{league}", "games": "games:today"}
API_KEYS = {"provider": "api-sports", "header": "x-apisports-key"}
sort_key = "created_at"
DEFAULT_DATABASE_URL = "mysql://localhost:3306/dbsbm"
digest = hashlib.sha256(b"x").hexdigest()
run_id = str(uuid.uuid4())
MASK = "********"
ENV_TO_FIELD = {"MYSQL_PASSWORD": "password", "DISCORD_TOKEN": "token"}
test_headers = {"authorization": "Bearer x"}
redacted = {"dsn": "mysql://u:****@h/db"}
PG_DSN = "host=db user=bot password=%s dbname=dbsbm" % os.environ["PGPASSWORD"]
PG_DSN_FMT = "host=db user=bot password={} dbname=dbsbm".format(os.environ["PGPASSWORD"])
PG_DSN_PEER = "host=/run/postgresql user=bot password= dbname=dbsbm"
pg_dsn = f"host={os.environ['PGHOST']} user=bot password={os.environ['PGPASSWORD']}"
GUILD_ID = 123456789012345678
ADMIN_ROLE_ID = "123456789012345678"
DISCORD_IDS = {"application_id": "123456789012345678", "owner": "987654321098765432"}


class Status:
    PASS = "pass"
    WARN = "warn"


def login(user, password=None):
    return user, password


def check(token):
    return token == os.environ["ADMIN_TOKEN"]


# names, not values: attribute keys, resource types, header names, patterns for secrets
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
TOKEN_ATTRIBUTE = "discord.token"
SECRET_RESOURCE = "AWS::SecretsManager::Secret"
ACL_CREDENTIALS = "Access-Control-Allow-Credentials"
API_KEY_HEADER_NAME = "X-Api-Key"


def rule(name, secret):
    return name, secret


OPAQUE = rule("keyed_opaque_value", secret=r"[a-z0-9][a-z0-9+/=_-]{19,}")
BEARER = rule("bearer", secret=r"(?:bearer)\s+[A-Za-z0-9._~+/-]{8,}")
