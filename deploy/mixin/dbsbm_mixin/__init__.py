"""The deploy mixin: Prometheus rules and tests, Grafana provisioning and docs from one definition.

Like kubernetes-mixin, but in Python so it reads names from ``dbsbm_instrumentation.semconv``,
targets from ``dbsbm_instrumentation.slo`` and host ratios from ``dbsbm_agent.config``
directly; the rest of the alert policy is ``config``. Each alert is one ``model.Alert`` in
``alerts/<area>.py``. ``python deploy/mixin/generate.py`` writes every output; ``--check``
fails when a committed file differs from what the definitions produce.
"""
