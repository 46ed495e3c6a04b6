"""A small bot shaped like DBSBM, for demos and end-to-end tests of the telemetry stack.

It is a discord.py ``commands.Bot`` with cogs (slash commands ``/bet``, ``/odds``,
``/schedule``, the prefix command ``!stats`` and an ``on_message`` listener) that reads and
writes MySQL through aiomysql, caches through :mod:`dbsbm_resilience.cache` and calls
an HTTP "sports API" through aiohttp, as DBSBM does. It never connects to Discord: a
built-in traffic generator feeds gateway payloads to discord.py's own parsers, so every
command runs through the library's real dispatch. Replies go to an in-process sink.

It carries no telemetry code of its own: run it under ``opentelemetry-instrument`` and the
``dbsbm`` distro instruments it (``python -m examples.demo_bot --help``).

Faults for alert demos are set with ``DEMO_FAULTS`` (JSON) at start, or at run time::

    curl -s -X POST 127.0.0.1:$DEMO_CONTROL_PORT/faults -d '{"slow_db": 0.3, "api_error_rate": 0.2}'
    curl -s -X POST 127.0.0.1:$DEMO_CONTROL_PORT/faults/reset
    curl -s -X POST '127.0.0.1:$DEMO_CONTROL_PORT/redis/pause?seconds=30'

See :class:`examples.demo_bot.faults.Faults` for every field.
"""
