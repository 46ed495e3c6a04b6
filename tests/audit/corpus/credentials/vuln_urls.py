"""Credentials embedded in URLs: webhooks, DSNs, tokens in query strings (labelled corpus)."""

import aiohttp

ALERT_WEBHOOK = "https://discord.com/api/webhooks/1234567890123456789/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_aBcDeFgHiJkLmNoPqRsTuVwXyZ01"  # expect: DBSBM-CRED-003
MONGO_URI = "mongodb+srv://bot:Zk9xQ2pWbTNk@cluster0.mongodb.net/dbsbm"  # expect: DBSBM-CRED-003
ENGINE_URL = "postgresql+asyncpg://bot:Zk9xQ2pWbTNk@db:5432/dbsbm"  # expect: DBSBM-CRED-003
AMQP_URL = "amqp://dbsbm:Rk9pX4vQm7wL@rabbitmq:5672/"  # expect: DBSBM-CRED-003
ODDS_URL = "https://api.the-odds-api.com/v4/sports/upcoming/odds?regions=us&apiKey=3f2b8a1e9c4d4e5f8a7b1c2d3e4f5a6b"  # expect: DBSBM-CRED-003
SIGNED_EXPORT = "https://cdn.example-bets.net/export.csv?sig=Zk9xQ2pWbTNkR1l4N0FhUTJy&exp=1767225600"  # expect: DBSBM-CRED-003


async def scores(session: aiohttp.ClientSession, league: str):
    url = f"https://feeds.sportsdata.io/v3/nfl/scores/json/{league}?key=7d3f1a9b2c4e6f8a0b1c3d5e7f9a2b4c"  # expect: DBSBM-CRED-003
    async with session.get(url) as resp:
        return await resp.json()


async def notify(session: aiohttp.ClientSession, text: str):
    await session.post(
        "https://discordapp.com/api/webhooks/987654321098765432/Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-_dCbA9876543210zYxWvUtSrQpOnMlKjIhGfEdCb",  # expect: DBSBM-CRED-003
        json={"content": text},
    )


def grafana_link(panel: int) -> str:
    return f"https://grafana.internal/d/bets?panel={panel}&auth_token=glsa_Qm7wLz2Rk9pX4vHx83kd0Wpq21Lm"  # expect: DBSBM-CRED-003
