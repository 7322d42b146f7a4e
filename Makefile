# Interlock. Two commands matter: `make run` and `make test`; the rest is for maintainers.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One stamp per extra set, named after pyproject.toml's checksum: an edit re-installs.
SUM := $(shell cksum pyproject.toml | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.installed-run-$(SUM)
STAMP := $(VENV)/.installed-dev-$(SUM)
PORT ?= 8080

.PHONY: install run test check lint typecheck fmt fuzz bench bench-full bench-peers bench-smoke clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# What running needs: the router's own dependencies, no test or lint tools.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	rm -f $(VENV)/.installed-run-*
	touch $(RUN_STAMP)

# What testing and checking need on top (pytest, mypy, ruff, the vendors' signing libraries...).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@# promtool (Debian's prometheus package) checks the /metrics exposition in the tests; best
	@# effort: without apt or root the test that needs it skips and says why.
	@command -v promtool >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 || \
		  { apt-get update >/dev/null 2>&1 && \
		    apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1; }; }; } || \
		echo "promtool not installed: the exposition test will skip"
	rm -f $(VENV)/.installed-*
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)

# The router on routes/ plus the vendor simulators (ports 9100-9106) its shipped connectors use.
run: $(RUN_STAMP)
	@mkdir -p data
	@echo "Interlock on http://127.0.0.1:$(PORT), simulators on 9100-9106 (log: data/simulators.log)."
	@echo "Try, in another shell (the README explains each):"
	@echo "  $(BIN)/interlock demo     # the seed workflows, end to end, with timelines and SLAs"
	@echo "  curl -i -X POST http://127.0.0.1:$(PORT)/webhooks/demo -H 'Content-Type: application/json' \\"
	@echo "       -d '{\"id\": \"evt-1\", \"type\": \"order.created\", \"customer\": \"cus-1\", \"forward\": true}'"
	@echo "  curl -s http://127.0.0.1:9106/_sim/requests"
	@echo "  curl -s -X POST http://127.0.0.1:$(PORT)/api/inventory-availability -H 'Content-Type: application/json' -d '{\"sku\": \"SKU-1\"}'"
	@$(BIN)/interlock simulate --base-port 9100 --demo > data/simulators.log 2>&1 & sims=$$!; \
	trap 'kill $$sims 2>/dev/null' EXIT INT TERM; \
	$(BIN)/interlock run --demo --routes routes --data-dir data --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest -q

fuzz: $(STAMP)  ## 10,000 hypothesis examples per ingress type and per structured-fuzz target
	INTERLOCK_FUZZ_EXAMPLES=10000 $(BIN)/pytest -q tests/router/test_ingress_fuzz.py \
		tests/router/test_structured_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

bench-full: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench --full

# Node-RED, the low-code peer, into a git-ignored folder (the npm registry is reachable).
bench-peers:
	npm install --prefix bench/peers node-red@4.1.15

bench-smoke: $(STAMP)
	$(BIN)/python -m bench --smoke

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
