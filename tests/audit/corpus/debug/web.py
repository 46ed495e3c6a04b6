"""DBSBM's web dashboard shape: the Flask app is imported, so bandit's B201 (which needs a
flask import in the same file) sees none of these."""

import logging
import os

from bot.web import app

logging.basicConfig(level=os.getenv("LOG_LEVEL", "DEBUG"))  # expect: DBSBM-DEBUG-002
logging.getLogger("bot").setLevel(os.environ.get("LOG_LEVEL", "DEBUG").upper())  # expect: DBSBM-DEBUG-002
app.debug = True  # expect: DBSBM-DEBUG-001
app.config["DEBUG"] = True  # expect: DBSBM-DEBUG-001
app.config.update(DEBUG=True, SECRET_KEY_FILE="/run/secrets/flask")  # expect: DBSBM-DEBUG-001
app.config.update({"DEBUG": True})  # expect: DBSBM-DEBUG-001


def serve():
    app.run(host="0.0.0.0", port=8080, debug=True)  # expect: DBSBM-DEBUG-001
