"""Every manifest under examples/ is a valid Kubernetes object or custom resource, and every
kustomize overlay refers only to files that exist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.helm_support import REFERENCE, REPO_ROOT

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")

EXAMPLES = REPO_ROOT / "examples"
K8S_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
# Custom resources: the schema in ../shared/reference/crds/ of each apiVersion and kind.
CRD_SCHEMAS = {
    ("argoproj.io/v1alpha1", "Application"): "argoproj.io/application_v1alpha1.json",
    ("argoproj.io/v1alpha1", "ApplicationSet"): "argoproj.io/applicationset_v1alpha1.json",
    ("bitnami.com/v1alpha1", "SealedSecret"): "bitnami.com/sealedsecret_v1alpha1.json",
    ("external-secrets.io/v1", "ExternalSecret"): "external-secrets.io/externalsecret_v1.json",
    ("external-secrets.io/v1", "ClusterSecretStore"): "external-secrets.io/clustersecretstore_v1.json",
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"): "helm.toolkit.fluxcd.io/helmrelease_v2.json",
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): "kustomize.toolkit.fluxcd.io/kustomization_v1.json",
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): "source.toolkit.fluxcd.io/gitrepository_v1.json",
    ("source.toolkit.fluxcd.io/v1", "HelmRepository"): "source.toolkit.fluxcd.io/helmrepository_v1.json",
}
# Files that are configuration of a tool, not objects sent to a cluster.
KUSTOMIZE = ("kustomize.config.k8s.io/v1beta1", "Kustomization")
KSOPS = ("viaduct.ai/v1", "ksops")


def yaml_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*") if p.suffix in {".yaml", ".yml"} and p.name != ".sops.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    """(file, object) of every Kubernetes object in examples/ (values files have no apiVersion)."""
    return [(path, doc) for path in yaml_files() for doc in documents(path) if "apiVersion" in doc and "kind" in doc]


def as_applied(document: dict[str, Any]) -> dict[str, Any]:
    """What reaches the API server: SOPS metadata is removed when Flux or KSOPS decrypts a file."""
    return {key: value for key, value in document.items() if key != "sops"}


def _crd_validator(key: tuple[str, str]) -> Any:
    import jsonschema

    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference (CRD schemas) is absent")
    schema = json.loads((REFERENCE / "crds" / CRD_SCHEMAS[key]).read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def test_examples_hold_every_kind_the_issue_asks_for():
    kinds = {(doc["apiVersion"], doc["kind"]) for _, doc in manifests()}
    assert set(CRD_SCHEMAS) <= kinds, f"missing: {set(CRD_SCHEMAS) - kinds}"
    secrets = {doc["metadata"]["name"] for _, doc in manifests() if doc["kind"] == "ClusterSecretStore"}
    providers = {next(iter(doc["spec"]["provider"])) for _, doc in manifests() if doc["kind"] == "ClusterSecretStore"}
    assert providers == {"aws", "vault"}, secrets


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_its_crd_or_kubernetes_schema(version):
    checked = {"crd": 0, "kubernetes": 0}
    for path, document in manifests():
        key = (document["apiVersion"], document["kind"])
        where = f"{path.relative_to(REPO_ROOT)} {document['kind']}/{document.get('metadata', {}).get('name')}"
        if key in {KUSTOMIZE, KSOPS}:
            continue  # tool configuration, checked by test_every_overlay_refers_to_files_that_exist
        if key in CRD_SCHEMAS:
            errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in _crd_validator(key).iter_errors(document)]
            assert not errors, f"{where}: {errors}"
            checked["crd"] += 1
            continue
        try:
            kubernetes_validate.validate(as_applied(document), version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{where} against Kubernetes {version}: {'.'.join(map(str, exc.path))}: {exc.message}")
        checked["kubernetes"] += 1
    assert checked["crd"] >= 19 and checked["kubernetes"] >= 7, checked


def test_a_broken_manifest_is_caught():
    """The validation above can fail: a misspelt field of a HelmRelease and of a Secret."""
    release = next(doc for _, doc in manifests() if doc["kind"] == "HelmRelease")
    broken = {**release, "spec": {**release["spec"], "valuesFrom": [{"kind": "ConfigMap", "nmae": "x"}]}}
    assert list(_crd_validator(("helm.toolkit.fluxcd.io/v2", "HelmRelease")).iter_errors(broken))
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"},
                                      "stringdata": {}}, K8S_VERSIONS[0], strict=True)


def test_every_overlay_refers_to_files_that_exist():
    overlays = [path for path in yaml_files() for doc in documents(path)
                if (doc.get("apiVersion"), doc.get("kind")) in {KUSTOMIZE, KSOPS}]
    assert len(overlays) >= 8
    for path in overlays:
        document = documents(path)[0]
        referenced = list(document.get("resources", [])) + list(document.get("generators", []))
        referenced += list(document.get("files", []))
        for generator in document.get("configMapGenerator", []) + document.get("secretGenerator", []):
            referenced += [entry.split("=", 1)[-1] for entry in generator.get("files", [])]
        assert referenced, path
        for entry in referenced:
            target = path.parent / entry
            assert target.exists(), f"{path.relative_to(REPO_ROOT)}: {entry} does not exist"
            if target.is_dir():
                assert (target / "kustomization.yaml").is_file(), f"{target} is not a kustomize folder"


def test_every_flux_and_argo_path_exists_in_the_repository():
    """Kustomization.spec.path and Application paths name folders of this repository."""
    for _, document in manifests():
        spec = document.get("spec", {})
        if document["kind"] == "Kustomization" and "path" in spec:
            assert (REPO_ROOT / spec["path"]).is_dir(), spec["path"]
        if document["kind"] == "Application":
            source = spec["source"]
            chart = REPO_ROOT / source["path"]
            assert chart.is_dir(), source["path"]
            for name in source.get("helm", {}).get("valueFiles", []):
                assert (chart / name).resolve().is_file(), name
            for parameter in source.get("helm", {}).get("fileParameters", []):
                assert (chart / parameter["path"]).resolve().is_file(), parameter


def test_sync_is_automated_with_prune_and_self_heal():
    applications = [doc for _, doc in manifests() if doc["kind"] == "Application"]
    applications += [doc["spec"]["template"] for _, doc in manifests() if doc["kind"] == "ApplicationSet"]
    assert len(applications) >= 3
    for application in applications:
        assert application["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_the_sops_files_have_the_shape_sops_writes():
    import re

    rules = yaml.safe_load((EXAMPLES / "secrets" / "sops" / ".sops.yaml").read_text(encoding="utf-8"))
    recipients = set()
    for rule in rules["creation_rules"]:
        assert rule["path_regex"] and rule["age"]
        for key in rule["age"].split(","):
            assert re.fullmatch(r"age1[02-9ac-hj-np-z]{58}", key.strip()), key  # public keys only
            recipients.add(key.strip())
    encrypted = sorted((EXAMPLES / "secrets" / "sops").rglob("*.enc.yaml"))
    assert len(encrypted) >= 3
    for path in encrypted:
        document = documents(path)[0]
        relative = str(path.relative_to(EXAMPLES / "secrets" / "sops"))
        rule = next(r for r in rules["creation_rules"] if re.search(r["path_regex"], relative))
        metadata = document["sops"]
        assert {r["recipient"] for r in metadata["age"]} == {k.strip() for k in rule["age"].split(",")}, path
        assert all("BEGIN AGE ENCRYPTED FILE" in r["enc"] for r in metadata["age"])
        assert metadata["mac"].startswith("ENC[AES256_GCM,") and metadata["version"]
        assert metadata.get("encrypted_regex") == rule.get("encrypted_regex"), path

        def leaves(value: Any, where: str = ""):
            if isinstance(value, dict):
                for key, item in value.items():
                    yield from leaves(item, f"{where}.{key}")
            else:
                yield where, value

        encrypted_part = document.get("stringData", document) if "encrypted_regex" in metadata else document
        for where, value in leaves({k: v for k, v in encrypted_part.items() if k != "sops"}):
            assert str(value).startswith("ENC[AES256_GCM,data:"), f"{path.name}{where} is not encrypted"
