# leasehold: a DHCPv4 server for ISC Kea's configuration. Multi-stage: build
# with the Rust toolchain, run on a slim Debian with only the binary.
#
#   docker build -t leasehold .
#   docker run --network host -v /etc/kea:/etc/kea:ro leasehold \
#       serve -c /etc/kea/kea-dhcp4.conf

FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin leasehold \
    && install -m 0755 target/release/leasehold /usr/local/bin/leasehold

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libcap2-bin \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system leasehold \
    && useradd --system --gid leasehold --home-dir /var/lib/leasehold \
       --create-home --shell /usr/sbin/nologin leasehold
COPY --from=build /usr/local/bin/leasehold /usr/local/bin/leasehold
# Port 67, the raw/ARP path for directly attached clients, and SO_BINDTODEVICE
# without root: the server runs as `leasehold` with these file capabilities
# and no others. (Running the image as root with `serve --user leasehold`
# instead drops to the same user and capabilities after start-up.)
RUN setcap cap_net_bind_service,cap_net_raw,cap_net_admin+ep /usr/local/bin/leasehold
USER leasehold
WORKDIR /var/lib/leasehold
EXPOSE 67/udp 8000/tcp
# One real DORA against the server through the loopback relay (the
# configuration must serve `lo` with a subnet for relay 127.0.0.1, as the
# sample does); override or disable it for other configurations.
HEALTHCHECK --interval=60s --timeout=15s --start-period=10s --retries=3 \
    CMD ["leasehold", "probe", "--timeout", "2", "127.0.0.1"]
ENTRYPOINT ["leasehold"]
CMD ["serve", "--ready-file", "/tmp/leasehold.ready"]
