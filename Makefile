# leasehold: common tasks. `make run` and `make test` need root: port 67,
# and the network namespaces the end-to-end tests build.

CARGO ?= cargo
CONFIG ?=

.PHONY: build run test lint clean bench stop logs docker-build compose-up compose-down compose-test compose-logs

build:
	$(CARGO) build --release --locked

# Serve CONFIG (a Kea Dhcp4 file), or the built-in sample when it is empty.
run: build
	./target/release/leasehold serve $(if $(CONFIG),-c $(CONFIG)) --ready-file leasehold.ready

# Installs the Debian packages the tests use (Kea, perfdhcp, dhclient,
# udhcpc, nmap) when missing, then runs every test.
test:
	./scripts/test-deps.sh
	$(CARGO) build --release --locked
	$(CARGO) nextest run --workspace --locked --release

# leasehold and Kea 2.2 side by side under perfdhcp and `leasehold perf` load (root, Kea,
# perfdhcp and jq needed; about five minutes). See bench/bench.sh.
bench: build
	./scripts/test-deps.sh
	$(CARGO) build --release --locked -p leasehold-perf --example responder
	./bench/bench.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

clean:
	$(CARGO) clean

# Stops a server started with `make run` (by the pid in its ready file).
stop:
	@if [ -f leasehold.ready ]; then kill "$$(cat leasehold.ready)"; fi

logs:
	docker compose logs -f primary standby

# The container image and compose stack (primary, standby, PostgreSQL, test
# client); these need a Docker engine.
COMPOSE ?= docker compose

docker-build:
	docker build -t leasehold:latest .

compose-up:
	$(COMPOSE) up -d --build --wait primary standby

compose-test:
	$(COMPOSE) --profile test run --rm client

compose-logs: logs

compose-down:
	$(COMPOSE) --profile test down -v
