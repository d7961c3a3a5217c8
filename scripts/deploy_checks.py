#!/usr/bin/env python3
"""Checks of deploy/ that no installed linter makes; run by scripts/validate_deploy.sh.

Subcommands (each prints its findings and exits 1 when there is any):
  toolchain                 the Dockerfile's Rust image matches rust-toolchain.toml
  converters                the Dockerfile copies every script scripts/install_models.py runs
  compose CONFIG.json...    `docker-compose config --format json` output: pinned images,
                            healthchecks, one-shot services that `up --wait` accepts,
                            bind-mount and secret files that exist
  refs [--external-secret NAME] MANIFEST...
                            references between Kubernetes objects resolve (selectors,
                            Services, HPA and PDB targets, ConfigMaps, Secrets, volumes, probe
                            ports), and every container runs as non-root on a read-only root
                            filesystem with a writable /tmp
  helm CHART OUTDIR         lint the chart with Helm's SDK, render it with every ci/ values
                            file into OUTDIR, and check what each render must contain
  dashboard JSON DATASOURCES RULES_OUT
                            the Grafana dashboard's structure and metrics; writes its PromQL
                            as a rules file for `promtool check rules`
"""

import fnmatch
import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def report(name: str, problems: list[str]) -> int:
    for p in problems:
        print(f"  {name}: {p}")
    return 1 if problems else 0


def toolchain() -> int:
    channel = tomllib.loads((ROOT / "rust-toolchain.toml").read_text())["toolchain"]["channel"]
    m = re.search(r"^FROM rust:([0-9.]+)-", (ROOT / "Dockerfile").read_text(), re.M)
    problems = []
    if not m:
        problems.append("no `FROM rust:<version>-...` builder stage in Dockerfile")
    elif m.group(1) != channel:
        problems.append(
            f"Dockerfile builds with rust {m.group(1)}, rust-toolchain.toml pins {channel}"
        )
    return report("toolchain", problems)


def converters() -> int:
    """The model layer of the image runs install_models.py, which runs a converter script
    per `convert` kind: each must be among the files the Dockerfile copies."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import install_models

    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    copied = [
        source
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for source in line.split()[1:-1]
    ]
    needed = ["install_models.py", "convert-requirements.txt", *install_models.CONVERTERS.values()]
    problems = [
        f"scripts/{name} is not copied into the image"
        for name in needed
        if not any(fnmatch.fnmatch(f"scripts/{name}", source) for source in copied)
    ]
    return report("converters", problems)


def compose(configs: list[str]) -> int:
    problems = []
    for path in configs:
        cfg = json.loads(Path(path).read_text())
        label = Path(path).stem
        for name, svc in cfg["services"].items():
            image = svc.get("image", "")
            if not image and "build" not in svc:
                problems.append(f"{label}/{name}: neither image nor build")
            if image:
                tag = image.rsplit("/", 1)[-1].partition(":")[2]
                if not tag or tag == "latest":
                    problems.append(f"{label}/{name}: image {image} has no pinned tag")
            one_shot = svc.get("restart") == "no"
            hc = svc.get("healthcheck", {})
            if not one_shot and (not hc or hc.get("disable")):
                problems.append(f"{label}/{name}: long-running service without a healthcheck")
            for vol in svc.get("volumes", []):
                if vol.get("type") == "bind" and not Path(vol["source"]).exists():
                    problems.append(
                        f"{label}/{name}: bind mount source {vol['source']} does not exist"
                    )
            for dep, cond in svc.get("depends_on", {}).items():
                if dep not in cfg["services"]:
                    problems.append(f"{label}/{name}: depends on unknown service {dep}")
                elif cond.get("condition") == "service_healthy" and not cfg["services"][dep].get(
                    "healthcheck"
                ):
                    problems.append(
                        f"{label}/{name}: waits for {dep} to be healthy, which has no healthcheck"
                    )
        # `up --wait` counts a one-shot container's exit as a failure unless a service
        # waits for it to complete.
        awaited = {
            dep
            for svc in cfg["services"].values()
            for dep, cond in svc.get("depends_on", {}).items()
            if cond.get("condition") == "service_completed_successfully"
        }
        for name, svc in cfg["services"].items():
            if svc.get("restart") == "no" and name not in awaited:
                problems.append(f"{label}/{name}: one-shot, but no service awaits its completion")
        init_script = (ROOT / "deploy/compose/init-secrets.sh").read_text()
        for name, secret in cfg.get("secrets", {}).items():
            src = Path(secret.get("file", ""))
            # Production secrets are written by init-secrets.sh, never committed.
            if src.parent.name == "secrets":
                if f"secrets/{src.name}" not in init_script:
                    problems.append(
                        f"{label}: secret {name} ({src}) is not created by init-secrets.sh"
                    )
            elif not src.exists():
                problems.append(f"{label}: secret {name} file {src} does not exist")
    return report("compose", problems)


def load_objects(paths: list[str]) -> list[dict]:
    objects = []
    for path in paths:
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if doc:
                objects.append(doc)
    return objects


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        return obj["spec"]["template"]["spec"]
    return None


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def pod_problems(where: str, spec: dict, has, secret_ok) -> list[str]:
    """References and hardening of one pod template."""
    problems = []
    sa = spec.get("serviceAccountName")
    if sa and sa != "default" and not has("ServiceAccount", sa):
        problems.append(f"{where}: ServiceAccount/{sa} is not defined")
    for vol in spec.get("volumes", []):
        if "secret" in vol and not secret_ok(vol["secret"]["secretName"]):
            problems.append(f"{where}: volume {vol['name']}: undefined Secret")
        if "configMap" in vol and not has("ConfigMap", vol["configMap"]["name"]):
            problems.append(f"{where}: volume {vol['name']}: undefined ConfigMap")
    volumes = {v["name"] for v in spec.get("volumes", [])}
    for c in spec["containers"] + spec.get("initContainers", []):
        cw = f"{where} container {c['name']}"
        for src in c.get("envFrom", []):
            if "configMapRef" in src and not has("ConfigMap", src["configMapRef"]["name"]):
                problems.append(f"{cw}: envFrom undefined ConfigMap/{src['configMapRef']['name']}")
            if "secretRef" in src and not secret_ok(src["secretRef"]["name"]):
                problems.append(f"{cw}: envFrom undefined Secret/{src['secretRef']['name']}")
        for env in c.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and not secret_ok(ref["name"]):
                problems.append(f"{cw}: env {env['name']} from undefined Secret/{ref['name']}")
        mounts = c.get("volumeMounts", [])
        problems += [
            f"{cw}: mounts undefined volume {m['name']}" for m in mounts if m["name"] not in volumes
        ]
        ports = {p.get("name") for p in c.get("ports", [])}
        ports |= {p["containerPort"] for p in c.get("ports", [])}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            port = c.get(probe, {}).get("httpGet", {}).get("port")
            if port is not None and port not in ports:
                problems.append(f"{cw}: {probe} port {port} is not a container port")
        sc = {**spec.get("securityContext", {}), **c.get("securityContext", {})}
        if not sc.get("runAsNonRoot") or not sc.get("readOnlyRootFilesystem"):
            problems.append(f"{cw}: must run as non-root with a read-only root filesystem")
        if "/tmp" not in {m["mountPath"] for m in mounts}:
            problems.append(f"{cw}: no writable /tmp on a read-only root filesystem")
    return problems


def refs(args: list[str]) -> int:
    external = set()
    while args and args[0] == "--external-secret":
        external.add(args[1])
        args = args[2:]
    objects = load_objects(args)
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}

    def has(kind: str, name: str) -> bool:
        return (kind, name) in names

    def secret_ok(name: str) -> bool:
        return has("Secret", name) or name in external

    pod_labels = [
        o["spec"]["template"]["metadata"].get("labels", {})
        for o in objects
        if o["kind"] == "Deployment"
    ]

    def selects_pods(selector: dict) -> bool:
        return any(matches(selector, labels) for labels in pod_labels)

    problems = []
    for o in objects:
        kind = o["kind"]
        where = f"{kind}/{o['metadata']['name']}"
        if kind == "Deployment":
            sel = o["spec"]["selector"]["matchLabels"]
            if not matches(sel, o["spec"]["template"]["metadata"].get("labels", {})):
                problems.append(f"{where}: selector {sel} does not match its pod labels")
        elif kind in ("Service", "PodDisruptionBudget"):
            # A Service's selector is a plain label map, a PDB's a label selector.
            sel = o["spec"]["selector"]
            if kind == "PodDisruptionBudget":
                sel = sel["matchLabels"]
            if not selects_pods(sel):
                problems.append(f"{where}: selector matches no Deployment's pods")
        elif kind == "HorizontalPodAutoscaler":
            target = o["spec"]["scaleTargetRef"]
            if not has(target["kind"], target["name"]):
                problems.append(f"{where}: scales undefined {target['kind']}/{target['name']}")
        elif kind == "Ingress":
            for rule in o["spec"]["rules"]:
                for p in rule["http"]["paths"]:
                    svc = p["backend"]["service"]["name"]
                    if not has("Service", svc):
                        problems.append(f"{where}: routes to undefined Service/{svc}")
        spec = pod_spec(o)
        if spec is not None:
            problems += pod_problems(where, spec, has, secret_ok)
    return report("refs", problems)


# The one lint message accepted: the chart has no hosted icon to point at, and `helm lint
# --strict` itself passes with it (it is severity INFO).
ACCEPTED_LINT = {(1, "Chart.yaml", "icon is recommended")}

# What each ci/ values file's render must contain: (kind, name) pairs, and pairs it must not.
EXPECTED = {
    "default-values.yaml": (
        {
            ("ConfigMap", "facegate-config"),
            ("Secret", "facegate-secrets"),
            ("Secret", "facegate-migrate"),
            ("ServiceAccount", "facegate"),
            ("Deployment", "facegate-api"),
            ("Deployment", "facegate-worker"),
            ("Service", "facegate-api"),
            ("PodDisruptionBudget", "facegate-api"),
            ("Job", "facegate-migrate"),
        },
        {("HorizontalPodAutoscaler", "facegate-api"), ("Ingress", "facegate")},
    ),
    "full-values.yaml": (
        {
            ("ConfigMap", "facegate-config"),
            ("Deployment", "facegate-api"),
            ("Deployment", "facegate-worker"),
            ("HorizontalPodAutoscaler", "facegate-api"),
            ("Ingress", "facegate"),
            ("Job", "facegate-migrate"),
        },
        {("Secret", "facegate-secrets"), ("Secret", "facegate-migrate")},
    ),
}


def helm(chart: str, outdir: str) -> int:
    import helm_python

    print(
        f"  helm SDK {helm_python.helm_sdk_version()} (helm-python-sdk {helm_python.__version__})"
    )
    problems = []
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    value_files = sorted((Path(chart) / "ci").glob("*-values.yaml"))
    print("  (lint mode logs the chart's `fail` calls as INFO lines; the renders enforce them)")
    for vf in [None, *value_files]:
        values = yaml.safe_load(vf.read_text()) if vf else None
        label = vf.name if vf else "chart defaults"
        lint = helm_python.lint(chart, values, strict=True)
        for msg in lint["messages"]:
            key = (msg["severity"], msg["path"], msg["error"])
            if key not in ACCEPTED_LINT:
                problems.append(f"lint ({label}): {msg['path']}: {msg['error']}")
        problems += [f"lint ({label}): {e}" for e in lint["errors"]]
        seen = "; ".join(f"{m['path']}: {m['error']}" for m in lint["messages"]) or "none"
        print(f"  helm lint --strict ({label}): messages: {seen}")

    with helm_python.Chart.load(chart) as c:
        # Defaults alone must refuse to render: the secrets have no safe default.
        try:
            c.render(None, name="facegate", namespace="facegate", is_install=True)
            problems.append("render with the chart defaults succeeded; it must ask for the secrets")
        except helm_python.HelmError as e:
            if "secrets.values.databaseUrl" not in str(e):
                problems.append(f"render with the chart defaults failed for another reason: {e}")
        # The schema must be live: a misspelt key is refused.
        try:
            c.render(
                {"secrets": {"values": {"databaseURL": "x", "jwtSecret": "y"}}}, name="facegate"
            )
            problems.append(
                "values.schema.json accepted a misspelt key (secrets.values.databaseURL)"
            )
        except helm_python.HelmError:
            pass
        for vf in value_files:
            values = yaml.safe_load(vf.read_text())
            try:
                manifests = c.render(values, name="facegate", namespace="facegate", is_install=True)
            except helm_python.HelmError as e:
                problems.append(f"render ({vf.name}): {e}")
                continue
            docs = [
                f"# Source: {path}\n{text.strip()}\n"
                for path, text in sorted(manifests.items())
                if text.strip() and not path.endswith("NOTES.txt")
            ]
            target = out / vf.name
            target.write_text("---\n".join(docs))
            got = {(o["kind"], o["metadata"]["name"]) for o in load_objects([str(target)])}
            must, must_not = EXPECTED.get(vf.name, (set(), set()))
            problems += [f"render ({vf.name}): missing {k}/{n}" for k, n in sorted(must - got)]
            problems += [
                f"render ({vf.name}): unexpected {k}/{n}" for k, n in sorted(must_not & got)
            ]
            print(f"  rendered {vf.name}: {len(got)} objects -> {target}")
    return report("helm", problems)


REQUIRED_METRICS = [
    "facegate_http_requests_total",
    "facegate_stage_duration_seconds_bucket",
    "facegate_search_requests_total",
    "facegate_index_requests_total",
    "facegate_queue_lag",
]


def dashboard(path: str, datasources: str, rules_out: str) -> int:
    dash = json.loads(Path(path).read_text())
    uids = {d["uid"] for d in yaml.safe_load(Path(datasources).read_text())["datasources"]}
    problems = []
    for key in ("uid", "title", "panels", "schemaVersion"):
        if key not in dash:
            problems.append(f"no {key}")
    ids = [p["id"] for p in dash.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append("panel ids are not unique")
    exprs = []
    for p in dash.get("panels", []):
        if p["type"] == "row":
            continue
        where = f"panel {p['id']} ({p.get('title')})"
        if "gridPos" not in p:
            problems.append(f"{where}: no gridPos")
        if p.get("datasource", {}).get("uid") not in uids:
            problems.append(f"{where}: data source {p.get('datasource')} is not provisioned")
        if not p.get("targets"):
            problems.append(f"{where}: no query")
        for t in p.get("targets", []):
            if t.get("datasource", {}).get("uid") not in uids:
                problems.append(f"{where}: query data source is not provisioned")
            exprs.append((where, t["expr"]))
    text = " ".join(e for _, e in exprs)
    problems += [
        f"no panel queries {m}" for m in REQUIRED_METRICS if not re.search(rf"\b{m}\b", text)
    ]
    if "by (le, stage)" not in text:
        problems.append("no per-stage latency quantile (by le, stage)")
    if "by (route, status)" not in text:
        problems.append("no request rate by route and status")
    # Grafana's interval variables are not PromQL: give promtool a fixed window.
    rules = [
        {"record": f"dashboard:panel_query:{i}", "expr": e.replace("$__rate_interval", "5m")}
        for i, (_, e) in enumerate(exprs)
    ]
    Path(rules_out).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    print(f"  {len(dash.get('panels', []))} panels, {len(exprs)} queries -> {rules_out}")
    return report("dashboard", problems)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "toolchain":
        return toolchain()
    if cmd == "converters":
        return converters()
    if cmd == "compose":
        return compose(args)
    if cmd == "refs":
        return refs(args)
    if cmd == "helm":
        return helm(*args)
    if cmd == "dashboard":
        return dashboard(*args)
    print(f"unknown subcommand {cmd}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
