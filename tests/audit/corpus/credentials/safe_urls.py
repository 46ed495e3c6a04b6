"""URLs built from the environment or templates, and query strings without credentials."""

import os

WEBHOOK_ID = os.environ["ALERT_WEBHOOK_ID"]
WEBHOOK_TOKEN = os.environ["ALERT_WEBHOOK_TOKEN"]
API_KEY = os.environ["ODDS_API_KEY"]

ALERT_WEBHOOK = f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"
WEBHOOK_TEMPLATE = "https://discord.com/api/webhooks/{webhook_id}/{webhook_token}"
WEBHOOK_DOCS = "https://discord.com/developers/docs/resources/webhook"
ODDS_URL = f"https://api.the-odds-api.com/v4/sports/upcoming/odds?regions=us&apiKey={API_KEY}"
ODDS_URL_CONCAT = "https://api.the-odds-api.com/v4/sports/?apiKey=" + API_KEY
ODDS_URL_PERCENT = "https://api.the-odds-api.com/v4/sports/?apiKey=%s" % API_KEY
ODDS_URL_EXAMPLE = "https://api.the-odds-api.com/v4/sports/?apiKey=YOUR_API_KEY"
SEARCH = "https://www.google.com/search?q=nfl+odds&key=value"
PAGED = "https://api.example-bets.net/v1/bets?page_token=CAUQAAxYz12345&limit=50"
OAUTH = "https://discord.com/oauth2/authorize?client_id=123456789012345678&response_type=code&scope=bot"
DATABASE_URL = "mysql://dbsbm:${MYSQL_PASSWORD}@mysql:3306/dbsbm"
REDIS_URL = f"redis://:{os.environ['REDIS_PASSWORD']}@redis:6379/0"
LOCAL_REDIS = "redis://localhost:6379/0"
