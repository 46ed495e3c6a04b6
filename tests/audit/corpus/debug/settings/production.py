"""Production settings module (labelled corpus): debug switches left on."""

import os

from .base import *  # noqa: F403

ENVIRONMENT = "production"
DEBUG = True  # expect: DBSBM-DEBUG-001
FLASK_DEBUG: str = "1"  # expect: DBSBM-DEBUG-001
SECRET_KEY = os.environ["SECRET_KEY"]
ALLOWED_HOSTS = ["bets.example.net"]


class Settings:
    DEBUG = True  # expect: DBSBM-DEBUG-001


class LocalOverrides:
    DEBUG = True
