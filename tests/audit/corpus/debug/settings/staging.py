"""Staging settings read their switches from the environment; production stays off."""

import os

DEBUG = os.getenv("DEBUG", "0") == "1"
if os.getenv("STAGING_DEBUG"):
    DEBUG_MODE = True
PRODUCTION_DEBUG = False
