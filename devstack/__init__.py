"""The local dev stack: Redis, MySQL, Prometheus, our collector and a file sink on loopback.

Repository tooling, never installed: the pytest fixtures (``tests/services.py``,
``tests/conftest.py``) and the demo launcher (``examples/demo_bot/launch.py``) both start
their services from here, so the two cannot drift. Both run from the repository root,
which is what makes ``devstack`` importable.

One module per service kind (``redis``, ``mysql``, ``prometheus``, ``collector``), each
with a ``*_process`` recipe (a local child process on the ports you give it) and a
``start_*`` that picks free ports and the backend ``DBSBM_SERVICES`` names
(``containers``). ``process`` holds what they share: ports, readiness polling, binaries
and the child process itself. A missing program raises :class:`devstack.process.Missing`,
whose message says what to install; the caller decides whether that fails or skips.
``alertmanager`` (Alertmanager on the generated configuration, and the Prometheus config
that alerts it) and ``discord_webhook`` (a Discord webhook stand-in) make the stack notify.
"""
