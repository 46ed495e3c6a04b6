# Entry points; each target is a script so CI and people run the same thing.
.PHONY: demo test bench generate

PYTHON ?= python

demo:  ## the whole stack on loopback, no Docker (Ctrl-C stops it)
	bash scripts/demo.sh $(ARGS)

test:  ## what CI runs: install what is missing, then pytest
	bash scripts/test.sh $(ARGS)

bench:  ## every benchmark, ours beside its baseline
	@set -e; for bench in benchmarks/bench_*.py; do echo "== $$bench"; $(PYTHON) $$bench; done

generate:  ## Prometheus rules and tests, Grafana provisioning, runbook and thresholds from deploy/mixin/dbsbm_mixin
	$(PYTHON) deploy/mixin/generate.py
