"""Values built from parts that are not secrets, or whose secret part comes from the
environment: none of these is a credential."""

import os
import secrets
import string

HOST = os.environ["API_HOST"]
BASE_URL = "https://" + HOST + "/v3"
ODDS_URL = "https://api.the-odds-api.com" + "/v4/sports"
AUTH_HEADER = "Bearer " + os.environ["API_TOKEN"]
BOT_AUTH = f"Bot {os.environ['DISCORD_TOKEN']}"
SECRET_NAME = "dbsbm/" + "prod" + "/mysql"
CACHE_KEY = "odds" + ":" + "nba"
TOKEN_URL = "https://discord.com" + "/api/oauth2/token"
DSN_TEMPLATE = "mysql://{user}:" + "{password}" + "@{host}/{db}"
PASSWORD_HINT = "at least " + str(12) + " characters"
TOKEN_PREFIX = "Bot" + " "
DEFAULT_PASSWORD = "".join(["", ""])
ALPHABET = string.ascii_letters + string.digits


def new_password(length=20):
    password = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return password


def session_token(user_id):
    token = "session-" + str(user_id)
    return token


def header(api_key):
    return {"x-apisports-key": "" + api_key, "Accept": "application/" + "json"}


LOCAL_HOST = os.getenv("API_HOST") or "local" + "host"
REGION = os.getenv("ODDS_REGION", "u" + "s")


def token_url():
    return "https://discord.com" + "/api/oauth2/token"


def password_hint():
    return "at least " + str(12) + " characters"
