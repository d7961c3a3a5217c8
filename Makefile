# The few commands a newcomer needs. `make run` and `make test` work on a fresh machine.
CARGO ?= cargo
BIN := $(or $(CARGO_TARGET_DIR),target)/release/facegate
LFW := ../shared/datasets/lfw

.PHONY: setup run test bench eval fmt lint models deploy-check

setup:
	scripts/setup.sh

run: setup
	$(BIN) serve

# Starts a throwaway PostgreSQL + pgvector on 127.0.0.1 for the store's tests, stops it after.
test: setup
	url=$$(scripts/test-postgres.sh start) && \
	FACEGATE_TEST_DATABASE_URL="$$url" FACEGATE_REQUIRE_MODELS=1 FACEGATE_REQUIRE_SERVICES=1 \
	  $(CARGO) test --release --locked --workspace --all-targets; \
	rc=$$?; scripts/test-postgres.sh stop >/dev/null 2>&1; exit $$rc

bench: setup
	$(BIN) bench --json reports/bench-$${FACEGATE__VISION__PACK:-insightface}.json

eval: setup
	$(BIN) eval --pairs $(LFW)/pairs.csv --name $${FACEGATE__VISION__PACK:-insightface}

models:
	python3 scripts/install_models.py

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings

deploy-check:
	scripts/validate_deploy.sh
