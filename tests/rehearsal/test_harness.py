"""The rehearsal's own rules, on small pod specs: mounts hide the image, paths move under the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rehearsal.pods import Cluster, Image, Pod


@pytest.fixture
def image(tmp_path: Path) -> Image:
    root = tmp_path / "image"
    (root / "opt" / "floe" / "artifacts").mkdir(parents=True)
    (root / "opt" / "floe" / "artifacts" / "baked.txt").write_text("from the image")
    (root / "opt" / "floe" / "project").mkdir()
    (root / "tmp").mkdir()  # the base image's /tmp
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    return Image(root=root, venv=venv, env={"PATH": "/opt/floe/venv/bin:/usr/bin:/bin", "HOME": "/tmp"},
                 workdir="/opt/floe/project")


SPEC = {
    "volumes": [
        {"name": "state", "emptyDir": {}},
        {"name": "artifacts", "configMap": {"name": "arts", "items": [{"key": "a.json", "path": "artifacts.json"}]}},
        {"name": "secrets", "secret": {"secretName": "floe-secrets", "optional": True}},
        {"name": "absent", "secret": {"secretName": "not-created", "optional": True}},
    ],
    "initContainers": [{"name": "stage", "command": ["/bin/sh", "-c"],
                        "args": ["cp -R \"$SRC/.\" /state/ && cp /etc/arts/artifacts.json /state/"],
                        "env": [{"name": "SRC", "value": "/opt/floe/artifacts"}],
                        "volumeMounts": [{"name": "state", "mountPath": "/state"},
                                         {"name": "artifacts", "mountPath": "/etc/arts"}]}],
    "containers": [{"name": "main", "command": ["/bin/sh", "-c", "cat $(FILE) /run/secrets/floe/KEY"],
                    "env": [{"name": "FILE", "value": "/opt/floe/artifacts/artifacts.json"},
                            {"name": "URL", "value": "http://minio:9000/bucket"},
                            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "pg", "key": "pw"}}},
                            {"name": "FROM_MAP", "valueFrom": {"configMapKeyRef": {"name": "arts", "key": "a.json"}}}],
                    "envFrom": [{"configMapRef": {"name": "shared"}, "prefix": "X_"},
                                {"secretRef": {"name": "celery", "optional": True}}],
                    "volumeMounts": [{"name": "state", "mountPath": "/opt/floe/artifacts"},
                                     {"name": "secrets", "mountPath": "/run/secrets/floe", "readOnly": True}]}],
}


def _cluster() -> Cluster:
    return Cluster(config_maps={"arts": {"a.json": '{"x": 1}'}, "shared": {"HOME_DIR": "/tmp/home"}},
                   secrets={"floe-secrets": {"KEY": "s3cr3t"}, "pg": {"pw": "pg-password"}})


def test_volumes_env_and_paths_follow_the_pod_spec(image: Image, tmp_path: Path) -> None:
    pod = Pod(SPEC, _cluster(), image, tmp_path / "pod")
    assert (pod.volumes["artifacts"] / "artifacts.json").read_text() == '{"x": 1}'  # items: key -> path
    assert (pod.volumes["secrets"] / "KEY").read_text() == "s3cr3t"
    assert list(pod.volumes["absent"].iterdir()) == []  # an optional, missing Secret: an empty volume
    main = pod.container("main")
    env = pod.environment(main)
    root = pod.root_of(main)
    assert env["FILE"] == f"{root}/opt/floe/artifacts/artifacts.json"
    assert env["URL"] == "http://minio:9000/bucket"  # not a path the container sees
    assert env["PASSWORD"] == "pg-password" and env["FROM_MAP"] == '{"x": 1}'
    assert env["X_HOME_DIR"] == f"{root}/tmp/home" and env["HOME"] == f"{root}/tmp"
    assert env["PATH"].startswith(f"{root}/opt/floe/venv/bin:/usr/bin")
    argv = pod.argv(main, env)
    assert argv[:2] == ["/bin/sh", "-c"]  # system paths stay
    assert argv[2] == f"cat {root}/opt/floe/artifacts/artifacts.json {root}/run/secrets/floe/KEY"


@pytest.mark.process
def test_a_mount_hides_the_image_and_init_containers_share_volumes(image: Image, tmp_path: Path) -> None:
    pod = Pod(SPEC, _cluster(), image, tmp_path / "pod")
    main = pod.root_of(pod.container("main"))
    assert not (main / "opt" / "floe" / "artifacts" / "baked.txt").exists(), "the emptyDir hides the image's files"
    pod.init()
    assert (main / "opt" / "floe" / "artifacts" / "baked.txt").read_text() == "from the image"
    done = pod.run("main")
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"x": 1}s3cr3t'


def test_a_missing_required_source_is_an_error(image: Image, tmp_path: Path) -> None:
    spec = {"containers": [{"name": "main", "command": ["true"],
                            "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}]}
    pod = Pod(spec, Cluster(), image, tmp_path / "pod")
    with pytest.raises(AssertionError, match="refers to nope/k, which does not exist"):
        pod.environment(pod.container("main"))
