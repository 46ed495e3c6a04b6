"""The deploy mixin: Prometheus rules, Grafana provisioning and docs from one definition.

Like kubernetes-mixin, but in Python so it reads names from
``dbsbm_instrumentation.semconv`` and numbers from ``dbsbm_instrumentation.slo`` and ``config``
directly. ``python deploy/mixin/generate.py`` writes every output; ``--check`` fails when a
committed file differs from what the definitions produce.
"""
