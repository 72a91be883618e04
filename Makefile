# leasehold: common tasks. `make run` and `make test` need root: port 67,
# and the network namespaces the end-to-end tests build.

CARGO ?= cargo
CONFIG ?=

.PHONY: build run test lint clean bench

build:
	$(CARGO) build --release --locked

# Serve CONFIG (a Kea Dhcp4 file), or the built-in sample when it is empty.
run: build
	./target/release/leasehold serve $(if $(CONFIG),-c $(CONFIG))

# Installs the Debian packages the tests use (Kea, perfdhcp, dhclient,
# udhcpc, nmap) when missing, then runs every test.
test:
	./scripts/test-deps.sh
	$(CARGO) build --release --locked
	$(CARGO) nextest run --workspace --locked --release

# leasehold and Kea 2.2 side by side under perfdhcp and `leasehold perf` load (root, Kea,
# perfdhcp and jq needed; about five minutes). See bench/bench.sh.
bench: build
	$(CARGO) build --release --locked -p leasehold-perf --example responder
	./bench/bench.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

clean:
	$(CARGO) clean
