# Ringside: `make run` starts the console with three demo clusters,
# `make test` runs every test. Both install what they need first (`make setup`).

CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
export RINGSIDE_BIN_DIR := $(CARGO_TARGET_DIR)/debug

.PHONY: setup build run test test-rust test-e2e lint fmt

setup:
	scripts/setup.sh

build: setup
	cargo leptos build
	cargo build -p ringside-cli

run: build
	scripts/demo.sh

test: build test-rust test-e2e

test-rust:
	scripts/build-release.sh 0.1.0-next # the release the lifecycle test upgrades to
	cargo test --workspace --exclude ringside-frontend
	cargo test -p ringside-tests --test jobs -- --ignored bandwidth_holds_over_ten_seconds
	ring/scripts/wasm-determinism.sh
	deploy/test.sh

test-e2e:
	cd end2end && npx playwright test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --exclude ringside-frontend --all-targets -- -D warnings
	cargo clippy -p ringside-frontend --target wasm32-unknown-unknown -- -D warnings

fmt:
	cargo fmt --all
