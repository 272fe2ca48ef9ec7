"""Run the containers of rendered pod specs on this machine, as a kubelet would start them.

No container runtime is available here, so a pod is rehearsed with real processes:

* the **image** is a folder (``image_root``) holding what ``docker/Dockerfile.dagster`` bakes
  under ``/`` (``/opt/floe/project``, ``/opt/floe/artifacts``, ...), produced by running the
  Dockerfile's own compile step, and a virtual environment installed with the Dockerfile's own
  install line (see ``image.py``);
* every **volume** of the pod is a folder: a ConfigMap's keys (or ``items``) and a Secret's
  keys become files, an emptyDir an empty folder. Containers of one pod share them;
* every **container** gets its own root: a copy of the image folder in which each mountPath is
  a symbolic link to its volume's folder, so a mount hides what the image has at that path,
  as it does in a pod;
* every absolute path the container sees (env values, command, args, workingDir) is rewritten
  under that root when its first component exists there (``/opt``, ``/tmp``, a mount);
  ``/bin/sh`` and other system paths stay as they are;
* env comes from the image's ``ENV`` lines, then ``envFrom`` (ConfigMap/Secret), then ``env``
  (``value``, ``configMapKeyRef``, ``secretKeyRef``), as Kubernetes orders them.

Only what cannot run here is stood in for: the container runtime (processes instead) and
the API server (ConfigMaps and Secrets are given as dicts).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# An absolute path inside a string: a command argument, an env value, a line of a shell script.
_PATH = re.compile(r"(?<![\w$}./-])/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]*)*")
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")  # Kubernetes' $(VAR) in env values and args


@dataclass
class Cluster:
    """What the API server would hold: ConfigMaps and Secrets by name (Secret values as plain text)."""

    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)

    def add_objects(self, documents: list[dict[str, Any]]) -> None:
        """ConfigMaps and Secrets of a render, as ``helm install`` would create them."""
        for document in documents:
            name = document["metadata"]["name"]
            if document["kind"] == "ConfigMap":
                self.config_maps[name] = {k: str(v) for k, v in (document.get("data") or {}).items()}
            elif document["kind"] == "Secret":
                data = {k: base64.b64decode(v).decode() for k, v in (document.get("data") or {}).items()}
                self.secrets[name] = data | {k: str(v) for k, v in (document.get("stringData") or {}).items()}


@dataclass
class Image:
    """The image as folders: its baked files under ``root`` and its Python environment."""

    root: Path
    venv: Path
    env: dict[str, str]
    workdir: str


class Pod:
    """One pod spec materialised under ``base``: its volumes, and a root per container."""

    def __init__(self, spec: dict[str, Any], cluster: Cluster, image: Image, base: Path) -> None:
        self.spec = spec
        self.cluster = cluster
        self.image = image
        self.base = base
        self.volumes: dict[str, Path] = {}
        for volume in spec.get("volumes", []):
            self.volumes[volume["name"]] = self._materialise(volume)

    def _materialise(self, volume: dict[str, Any]) -> Path:
        folder = self.base / "volumes" / volume["name"]
        folder.mkdir(parents=True)
        if "configMap" in volume:
            source, data = volume["configMap"], self.cluster.config_maps.get(volume["configMap"]["name"])
        elif "secret" in volume:
            source, data = volume["secret"], self.cluster.secrets.get(volume["secret"]["secretName"])
        elif "emptyDir" in volume:
            return folder
        else:
            raise AssertionError(f"volume {volume['name']}: kind not rehearsed: {sorted(volume)}")
        if data is None:
            assert source.get("optional"), f"volume {volume['name']}: {source} does not exist and is not optional"
            return folder
        items = source.get("items") or [{"key": key, "path": key} for key in data]
        for item in items:
            target = folder / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]], encoding="utf-8")
        return folder

    def container(self, name: str) -> dict[str, Any]:
        found = [c for c in self.spec.get("initContainers", []) + self.spec["containers"] if c["name"] == name]
        assert len(found) == 1, f"no container {name} in the pod"
        return found[0]

    def root_of(self, container: dict[str, Any]) -> Path:
        """The container's filesystem: the image, each mountPath a link to its volume."""
        root = self.base / "roots" / container["name"]
        if root.exists():
            return root
        shutil.copytree(self.image.root, root, symlinks=True)
        (root / "opt" / "floe" / "venv").symlink_to(self.image.venv, target_is_directory=True)
        for mount in sorted(container.get("volumeMounts", []), key=lambda m: len(m["mountPath"])):
            assert mount["name"] in self.volumes, f"{container['name']}: mounts unknown volume {mount['name']}"
            target = root / mount["mountPath"].lstrip("/")
            source = self.volumes[mount["name"]]
            if mount.get("subPath"):
                source = source / mount["subPath"]
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source, target_is_directory=source.is_dir())
        return root

    def rewrite(self, text: str, root: Path) -> str:
        """Absolute paths the container would see, made paths under its root."""
        tops = {entry.name for entry in root.iterdir()}
        return _PATH.sub(lambda m: str(root) + m.group(0) if m.group(0).split("/")[1] in tops else m.group(0), text)

    def environment(self, container: dict[str, Any]) -> dict[str, str]:
        """The container's environment, host paths in place of the container's."""
        root = self.root_of(container)
        env = dict(self.image.env)
        for source in container.get("envFrom", []):
            prefix = source.get("prefix", "")
            ref = source.get("configMapRef") or source.get("secretRef")
            store = self.cluster.config_maps if "configMapRef" in source else self.cluster.secrets
            data = store.get(ref["name"])
            if data is None:
                assert ref.get("optional"), f"{container['name']}: envFrom {ref['name']} does not exist"
                continue
            env.update({prefix + key: value for key, value in data.items()})
        for item in container.get("env", []):
            env[item["name"]] = self._env_value(item, env, container["name"])
        return {key: self.rewrite(value, root) for key, value in env.items()}

    def _env_value(self, item: dict[str, Any], env: dict[str, str], container: str) -> str:
        if "value" in item:
            return _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), str(item["value"]))
        source = item.get("valueFrom", {})
        ref = source.get("configMapKeyRef") or source.get("secretKeyRef")
        assert ref is not None, f"{container}: env {item['name']}: source not rehearsed: {source}"
        store = self.cluster.config_maps if "configMapKeyRef" in source else self.cluster.secrets
        value = store.get(ref["name"], {}).get(ref["key"])
        assert value is not None or ref.get("optional"), \
            f"{container}: env {item['name']} refers to {ref['name']}/{ref['key']}, which does not exist"
        return value or ""

    def argv(self, container: dict[str, Any], env: dict[str, str]) -> list[str]:
        """command + args (the image has no ENTRYPOINT), $(VAR) expanded, paths rewritten."""
        root = self.root_of(container)
        words = [*container.get("command", []), *container.get("args", [])]
        assert words, f"{container['name']}: no command (the image's CMD would run)"
        # Rewrite first, then expand: the env values are host paths already.
        argv = [_VAR.sub(lambda m: env.get(m.group(1), m.group(0)), self.rewrite(str(word), root)) for word in words]
        if not argv[0].startswith("/"):
            found = shutil.which(argv[0], path=env.get("PATH"))
            assert found, f"{container['name']}: {argv[0]} is not on the container's PATH"
            argv[0] = found
        return argv

    def cwd(self, container: dict[str, Any]) -> Path:
        return Path(self.rewrite(container.get("workingDir") or self.image.workdir, self.root_of(container)))

    def run(self, name: str, *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run a container to completion (an init container, a Job's container)."""
        return self._complete(self.container(name), timeout)

    def exec(self, name: str, command: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in a container's environment, as an exec probe or ``kubectl exec`` does."""
        return self._complete(dict(self.container(name), command=command, args=[]), timeout)

    def _complete(self, container: dict[str, Any], timeout: float) -> subprocess.CompletedProcess[str]:
        env = self.environment(container)
        return subprocess.run(self.argv(container, env), cwd=self.cwd(container), env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)

    def start(self, name: str, *, log: Path, replace: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a long-running container (a server); its output goes to ``log``."""
        container = self.container(name)
        env = self.environment(container)
        argv = [_replace(word, replace) for word in self.argv(container, env)]
        with log.open("wb") as out:
            return subprocess.Popen(argv, cwd=self.cwd(container), env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def init(self) -> None:
        """Run every init container in order; each must succeed, as the kubelet requires."""
        for container in self.spec.get("initContainers", []):
            done = self.run(container["name"], timeout=120)
            assert done.returncode == 0, f"init container {container['name']} failed:\n{done.stdout}{done.stderr}"


def _replace(word: str, replace: dict[str, str] | None) -> str:
    """Exact-word substitutions (a port the machine may already use), stated by the caller."""
    return (replace or {}).get(word, word)


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a started container and its children (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)
