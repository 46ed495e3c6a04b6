"""Development settings: debug is the point here."""

from .base import *  # noqa: F403

DEBUG = True
FLASK_DEBUG = "1"
