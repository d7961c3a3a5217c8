#!/usr/bin/env bash
# Creates what docker-compose.prod.yml needs and must never be committed: .env with random
# service passwords and secrets/ with the application's JWT signing secret and at-rest
# encryption key. Keeps whatever already exists, so it is safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

if [ ! -f .env ]; then
  umask 077
  cat >.env <<ENV
POSTGRES_PASSWORD=$(random_hex 24)
REDIS_PASSWORD=$(random_hex 24)
MINIO_ROOT_USER=facegate
MINIO_ROOT_PASSWORD=$(random_hex 24)
GRAFANA_ADMIN_PASSWORD=$(random_hex 16)
KAFKA_CLUSTER_ID=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
ENV
  echo "wrote deploy/compose/.env"
fi

mkdir -p secrets
chmod 700 secrets
# Compose bind-mounts secret files with their host mode, and the container runs as uid
# 10001: the files must be world-readable, the folder above them is not.
if [ ! -f secrets/jwt_secret ]; then
  (umask 022; random_hex 48 >secrets/jwt_secret)
  echo "wrote deploy/compose/secrets/jwt_secret"
fi
if [ ! -f secrets/encryption_key ]; then
  # 32 random bytes (AES-256), base64-encoded.
  (umask 022; head -c 32 /dev/urandom | base64 >secrets/encryption_key)
  echo "wrote deploy/compose/secrets/encryption_key"
fi
