# The few commands a person needs. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
PY := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo .venv-tools/bin/uv)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install kb run test test-cluster compose-test engine check bench docs docs-check clean fuzz

$(UV):
	python3 -m venv .venv-tools && .venv-tools/bin/pip install -q uv==0.13.9

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --compile-bytecode -q
	touch $@

# Bytecode is compiled at install (as the image does): without it every process start
# compiles spaCy, FastAPI and FastStream again, about two seconds per enrich replica.
install: .venv/.installed kb

kb: .venv/.installed ## compile the tagger's knowledge base into the file enrich replicas memory-map
	@$(PY) -m services.enrich.tagging.kbfile

run: install ## start Redis if needed, run the whole pipeline with a demo feed and outlet
	@deploy/run-demo.sh

test: install ## the whole test suite on a real Redis
	@export TEST_REDIS_URL=$${TEST_REDIS_URL:-$$(deploy/ensure-redis.sh)} && \
	  $(PY) -m pytest $(PYTEST_ARGS)

test-cluster: install ## integration and end-to-end suites on a local three-node Redis Cluster
	NEWSROOM_TEST_CLUSTER=1 $(PY) -m pytest -m "integration or e2e" $(PYTEST_ARGS)

engine: ## make this machine ready for compose: Docker engine, daemon, Compose v2, offline base images
	@deploy/ensure-engine.sh

compose-test: install ## build the image, run the compose stack scaled, kill replicas, restart Redis, lose nothing
	@$(PY) deploy/compose_test.py

# One target, three long randomised runs (CI runs the same tests with a small budget):
# 100,000 mutated inputs per parser (coverage, distinct failures), the property tests,
# then the stateful editorial tests on a real Redis.
fuzz: install ## long randomised runs: parser mutation campaign, property tests, stateful tests
	$(PY) -m tests.fuzz.campaign --inputs $${FUZZ_INPUTS:-100000}
	NEWSROOM_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1000} $(PY) -m pytest -q -p no:cacheprovider tests/fuzz
	@export TEST_REDIS_URL=$${TEST_REDIS_URL:-$$(deploy/ensure-redis.sh)} && \
	  NEWSROOM_STATEFUL_EXAMPLES=$${NEWSROOM_STATEFUL_EXAMPLES:-1000} NEWSROOM_STATEFUL_STEPS=$${NEWSROOM_STATEFUL_STEPS:-50} \
	  $(PY) -m pytest -m stateful -s -q -p no:randomly --timeout=0 $(PYTEST_ARGS)

check: install ## ruff + mypy --strict
	.venv/bin/ruff check .
	.venv/bin/ruff format --check shared services tests bench docs deploy
	.venv/bin/mypy

bench: install ## the benchmark suite (prints tables with ratios)
	@export REDIS_URL=$$(deploy/ensure-redis.sh) && $(PY) -m bench

docs: install ## regenerate docs/asyncapi.json and docs/openapi-*.json from the code
	$(PY) docs/generate.py

docs-check: install ## fail when the generated API documents no longer match the code
	$(PY) docs/generate.py --check

clean:
	rm -rf .venv .venv-tools .mypy_cache .ruff_cache .pytest_cache test-artifacts
