"""The floe image without Docker: its Python environment and its baked files, from the Dockerfile.

``docker/Dockerfile.dagster`` is read, not paraphrased: the environment is installed with the
arguments of its ``uv pip install`` line (the extras as its shell expands them, see
tests/docker/dockerfile.py), and the baked project is produced by running its compile RUN
line with ``/opt/floe`` placed under a folder. The environment is cached under ``build/``,
keyed by what it is installed from, so reruns take seconds.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.docker.dockerfile import (
    FLOE_INSTALL,
    Dockerfile,
    constraints_export,
    env_pairs,
    floe_install_words,
    install_constraints,
    install_requirements,
    parse,
)
from tests.rehearsal.pods import Image

DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile.dagster"
CACHE = REPO_ROOT / "build" / "rehearsal"
IMAGE_PREFIX = "/opt/floe"


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _sources_digest() -> str:
    files = sorted(p for p in (REPO_ROOT / "src").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return _digest(*(str(p.relative_to(REPO_ROOT)).encode() + p.read_bytes() for p in files))


def install_environment(dockerfile: Dockerfile) -> Path:
    """A venv with floe installed as the image installs it (same requirements, same extras, not editable).

    The dependencies are keyed by pyproject.toml and the install line; floe itself is
    reinstalled (without its dependencies) whenever its sources change.
    """
    words = floe_install_words(dockerfile)
    key = _digest((REPO_ROOT / "pyproject.toml").read_bytes(), (REPO_ROOT / "uv.lock").read_bytes(),
                  " ".join(words).encode())
    venv = CACHE / f"venv-{key}"
    uv = Path(sys.executable).with_name("uv")
    requirements = [f"{REPO_ROOT}{word[1:]}" if word.startswith(".") else word for word in install_requirements(words)]
    CACHE.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers build their sessions at once: one installs, the others wait and reuse.
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        constraints = _export_constraints(dockerfile, uv, install_constraints(words))
        _install(venv, uv, requirements, constraints)
    return venv


def _export_constraints(dockerfile: Dockerfile, uv: Path, named: list[str]) -> list[Path]:
    """Run the Dockerfile's own ``uv export`` in the checkout, writing into the cache instead of
    the image's path; the install line must read what it wrote."""
    export = constraints_export(dockerfile)
    output = export.index("--output-file") + 1
    assert named == [export[output]], f"the install reads {named}, the export writes {export[output]}"
    target = CACHE / "constraints.txt"
    command = [str(uv), *export[1:output], str(target), *export[output + 1:]]
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, timeout=300)
    return [target]


def _install(venv: Path, uv: Path, requirements: list[str], constraints: list[Path]) -> None:
    marker = venv / ".floe-sources"
    if not (venv / ".installed").is_file():  # none yet, another key's, or an install cut short
        for stale in CACHE.glob("venv-*"):
            shutil.rmtree(stale, ignore_errors=True)
        subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        bounds = [word for path in constraints for word in ("--constraint", str(path))]
        subprocess.run([str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *bounds,
                        *requirements], check=True, timeout=900)
        (venv / ".installed").touch()
        marker.unlink(missing_ok=True)
    sources = _sources_digest()
    if not marker.is_file() or marker.read_text() != sources:
        subprocess.run([str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--no-deps",
                        "--reinstall-package", "floe-runtime", requirements[0]], check=True, timeout=600)
        marker.write_text(sources)


def _build_args(dockerfile: Dockerfile) -> dict[str, str]:
    return {name: value or "" for name, value in dockerfile.args().items()}


def _expand(text: str, values: dict[str, str]) -> str:
    """${ARG} references (an ARG default may name another ARG, as FLOE_PLATFORM does)."""
    for _ in range(len(values) + 1):
        expanded = text
        for name, value in values.items():
            expanded = expanded.replace("${" + name + "}", value)
        if expanded == text:
            return text
        text = expanded
    return text


def bake_image(dockerfile: Dockerfile, venv: Path, root: Path) -> Image:
    """The image's files under ``root``: the project copied and compiled by the Dockerfile's RUN line."""
    args = _build_args(dockerfile)
    build = dockerfile.stages[0]
    copies = [i.value.split() for i in build.all("COPY") if IMAGE_PREFIX in i.value and "--from" not in i.value]
    for source, target in ((_expand(words[0], args), words[1]) for words in copies):
        destination = root / target.lstrip("/")
        origin = REPO_ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, destination, ignore=shutil.ignore_patterns(".floe", "target", "logs",
                                                                                "__pycache__"))
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, destination)
    compile_runs = [i.value for i in build.all("RUN") if "floe compile" in i.value]
    assert len(compile_runs) == 1, "the Dockerfile's build stage compiles the project in one RUN"
    script = compile_runs[0].replace(IMAGE_PREFIX, f"{root}{IMAGE_PREFIX}")
    workdir = [i.value for i in build.all("WORKDIR")][-1]
    env = {**os.environ, **args, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(root / "tmp"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("FLOE_ARTIFACTS_PATH", None)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["/bin/sh", "-c", script], cwd=root / workdir.lstrip("/"), env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, f"the image's compile step failed:\n{done.stdout}\n{done.stderr}"
    # The runtime stage: the health check script and Dagster's home exist in the image.
    (root / "var" / "lib" / "dagster").mkdir(parents=True, exist_ok=True)
    (root / "opt" / "floe" / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO_ROOT / "docker" / "healthcheck.py", root / "opt" / "floe" / "bin" / "healthcheck.py")
    final = dockerfile.final
    image_env: dict[str, str] = {}
    for instruction in final.all("ENV"):
        image_env.update(env_pairs(instruction))
    image_env["PATH"] = image_env["PATH"].replace("$PATH", os.environ["PATH"])
    return Image(root=root, venv=venv, env=image_env, workdir=[i.value for i in final.all("WORKDIR")][-1])


def floe_image(root: Path) -> Image:
    """Install (or reuse) the environment and bake the image's files under ``root``."""
    dockerfile = parse(DOCKERFILE)
    assert any(FLOE_INSTALL in i.value for i in dockerfile.stages[0].all("RUN"))
    return bake_image(dockerfile, install_environment(dockerfile), root)
