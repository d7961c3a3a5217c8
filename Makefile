# The few commands a newcomer needs. `make run` and `make test` work on a fresh machine.
CARGO ?= cargo
BIN := $(or $(CARGO_TARGET_DIR),target)/release/facegate
LFW := ../shared/datasets/lfw

.PHONY: setup run test bench bench-peer eval fmt lint models deploy-check

setup:
	scripts/setup.sh

run: setup
	$(BIN) serve

# Starts throwaway PostgreSQL + pgvector, Redis, Kafka (tansu) and S3 (s3s-fs) servers on
# 127.0.0.1, runs every test, then the API suite again on those production backends, and
# stops the servers.
test: setup
	@set -e; eval "$$(scripts/test-services.sh start)"; \
	trap 'scripts/test-services.sh stop' EXIT; \
	export FACEGATE_REQUIRE_MODELS=1 FACEGATE_REQUIRE_SERVICES=1; \
	$(CARGO) test --release --locked --workspace --all-targets; \
	echo "== the API suite on PostgreSQL + Redis + S3 + Kafka"; \
	FACEGATE_TEST_BACKEND=production $(CARGO) test --release --locked -p facegate-server --test api

bench: setup
	$(BIN) bench --json reports/bench-$${FACEGATE__VISION__PACK:-insightface}.json

# facegate against the Python peer (insightface, same models), three alternating rounds.
bench-peer: setup
	scripts/bench-peer.sh 3

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
