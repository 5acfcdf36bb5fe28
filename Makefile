SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(CURDIR)/target
# SQL checked at compile time reads the committed services/<svc>/.sqlx, never a database
# (`make sqlx-prepare` regenerates it). .cargo/config.toml sets the same for plain cargo.
export SQLX_OFFLINE := true

BENCH_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help infra build run stop status test bench lint clean-test-data check-deploy
.PHONY: bench-feeds

help: ## List the targets
	@echo "relief-mesh targets:"
	@grep -E '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN { FS = ":.*## " } { printf "  make %-13s %s\n", $$1, $$2 }'

infra: ## Ensure NATS (JetStream) on 127.0.0.1:4222 and PostgreSQL on 127.0.0.1:5432
	bash deploy/scripts/ensure-infra.sh

build: ## Build every service binary (debug)
	cargo build --workspace --bins

run: infra build ## Start the whole mesh locally and run the demo household through it
	bash deploy/scripts/run-local.sh start
	bash deploy/scripts/demo.sh
	@echo
	@echo "Logs: $(CURDIR)/.run/logs/<instance>.log  (status: make status)"
	@echo "The mesh keeps running; 'make stop' stops it."

clean-test-data: infra ## Drop databases and streams left by end-to-end tests that failed before teardown
	bash deploy/scripts/clean-test-data.sh

stop: ## Stop the locally running mesh
	bash deploy/scripts/run-local.sh stop

status: ## Show every local instance: port, pid, up/down, /readyz
	bash deploy/scripts/run-local.sh status

test: infra ## Run the workspace tests (they create their own databases and subject prefixes)
	cargo test --workspace --no-fail-fast -- --test-threads=4

bench: infra ## Run the chain benchmark in release mode (pass options via BENCH_ARGS=...)
	cargo run --release -p mesh-tests --bin chain-bench -- $(BENCH_ARGS)

.PHONY: bench-pain001
bench-pain001: ## Write the pain.001 files of 1,000,000 instructions with the streamed writer; prints time and peak memory (BENCH_ARGS=--instructions N)
	cargo run --release -p mesh-tests --bin pain001-bench -- $(BENCH_ARGS)

.PHONY: bench-payment
bench-payment: infra ## Run the monthly payment run over 1,000,000 seeded households, release mode (BENCH_ARGS="--households N --chunk C")
	cargo run --release -p mesh-tests --bin payment-bench -- $(BENCH_ARGS)

.PHONY: bench-feeds
bench-feeds: infra ## Compare a 1,000,000-record feed with a 1,000,000-person database, release mode (BENCH_ARGS=...)
	cargo run --release -p mesh-tests --bin feed-bench -- $(BENCH_ARGS)

lint: ## cargo fmt --check and clippy with warnings denied
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: sqlx-prepare sqlx-check
sqlx-prepare: infra ## Regenerate services/<svc>/.sqlx (the offline data of the compile-time checked SQL) from scratch databases
	bash deploy/scripts/sqlx-prepare.sh

sqlx-check: infra ## Fail if a committed services/<svc>/.sqlx does not match the service's SQL and migrations
	bash deploy/scripts/sqlx-prepare.sh --check

.PHONY: fuzz
fuzz: ## Fuzz the ID-number, CSV-feed and pain.002 parsers, FUZZ_SECONDS (30) each; a crash fails
	bash deploy/scripts/fuzz.sh

.PHONY: check-docs
check-docs: ## Validate docs/openapi.yaml (openapi-spec-validator) and docs/asyncapi.yaml (@asyncapi/parser) with their ecosystems' own tools
	bash deploy/scripts/check-docs.sh

check-deploy: ## Lint the Dockerfile, check the NATS/collector configs, render and validate every k8s overlay (offline)
	bash deploy/scripts/check-k8s.sh
