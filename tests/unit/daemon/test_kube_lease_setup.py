"""KubeLease set-up and refusals: in-cluster construction over TLS, what is said when the pod has no
API server, no token, an untrusted certificate, a refused token or a missing RBAC rule, and token
rotation. Against the Lease API double (tests/support/lease_api_double.py): no waiting here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from floe.daemon.kube_lease import KubeLease
from floe.errors import FloeError
from tests.support.lease_api_double import LeaseApiDouble

NS = "floe"
NAME = "dagster-daemon"


@pytest.fixture
def api() -> Iterator[LeaseApiDouble]:
    with LeaseApiDouble() as double:
        yield double


@pytest.fixture
def tls_api() -> Iterator[LeaseApiDouble]:
    pytest.importorskip("cryptography", reason="the TLS double makes its certificate with cryptography")
    with LeaseApiDouble(tls=True) as double:
        yield double


def store(api: LeaseApiDouble, token: str, identity: str = "pod-a") -> KubeLease:
    return KubeLease(api_url=api.url, name=NAME, namespace=NS, identity=identity, lease_duration_s=15, token=token,
                     ca_file=api.ca_file)


def service_account(folder: Path, token: str, ca_file: Path | None, namespace: str | None = NS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "token").write_text(token + "\n")
    if ca_file is not None:
        (folder / "ca.crt").write_bytes(ca_file.read_bytes())
    if namespace is not None:
        (folder / "namespace").write_text(namespace)
    return folder


def test_in_cluster_reaches_the_api_server_over_tls_with_the_pods_credentials(
        tls_api: LeaseApiDouble, tmp_path: Path) -> None:
    folder = service_account(tmp_path / "sa", tls_api.register(), tls_api.ca_file)
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(tls_api.port)}
    lease = KubeLease.in_cluster(name=NAME, identity="pod-a", lease_duration_s=15, environ=env,
                                 service_account_dir=folder)
    assert (lease.namespace, lease.name, lease.identity, lease.lease_duration_s) == (NS, NAME, "pod-a", 15)
    assert lease.try_acquire(30)
    stored = tls_api.lease(NS, NAME)
    assert stored is not None and stored["spec"]["holderIdentity"] == "pod-a"
    explicit = KubeLease.in_cluster(name=NAME, identity="pod-b", lease_duration_s=15, namespace="other",
                                    environ=env, service_account_dir=folder)
    assert explicit.namespace == "other"


def test_outside_a_pod_in_cluster_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FloeError, match="KUBERNETES_SERVICE_HOST") as raised:
        KubeLease.in_cluster(name=NAME, identity="a", lease_duration_s=15, environ={}, service_account_dir=tmp_path)
    assert "not running in a pod" in str(raised.value) and raised.value.hint and "PostgreSQL" in raised.value.hint
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(FloeError, match="automountServiceAccountToken") as raised:
        KubeLease.in_cluster(name=NAME, identity="a", lease_duration_s=15, environ=env,
                             service_account_dir=tmp_path / "none")
    assert "token" in str(raised.value)


def test_a_pod_without_a_namespace_file_must_name_the_namespace(tls_api: LeaseApiDouble, tmp_path: Path) -> None:
    folder = service_account(tmp_path / "sa", "t", tls_api.ca_file, namespace=None)
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(tls_api.port)}
    with pytest.raises(FloeError, match="namespace"):
        KubeLease.in_cluster(name=NAME, identity="a", lease_duration_s=15, environ=env, service_account_dir=folder)


def test_an_untrusted_api_server_certificate_is_a_configuration_error(tls_api: LeaseApiDouble) -> None:
    lease = KubeLease(api_url=tls_api.url, name=NAME, namespace=NS, identity="a", lease_duration_s=15,
                      token=tls_api.register())  # the system CAs, which did not sign the double's certificate
    with pytest.raises(FloeError, match="certificate is not trusted") as raised:
        lease.try_acquire(30)
    assert raised.value.hint and "ca.crt" in raised.value.hint


def test_an_unknown_token_says_so(api: LeaseApiDouble) -> None:
    lease = store(api, "not-registered")
    for call in (lease.try_acquire, lease.renew, lease.holder):
        with pytest.raises(FloeError, match="401 Unauthorized") as raised:
            call(30)
        assert raised.value.hint and "automountServiceAccountToken" in raised.value.hint


def test_a_missing_rbac_rule_is_named(api: LeaseApiDouble) -> None:
    reader = store(api, api.register(verbs={"get"}))
    with pytest.raises(FloeError) as raised:
        reader.try_acquire(30)
    text = str(raised.value)
    assert "RBAC forbids 'create' on leases in namespace floe" in text
    assert "resources: [leases], verbs: [get, create, update]" in text and "apiGroups: [coordination.k8s.io]" in text
    assert store(api, api.register()).try_acquire(30)
    with pytest.raises(FloeError, match="RBAC forbids 'update' on leases"):
        store(api, api.register(verbs={"get", "create"}), identity="pod-a").renew(30)
    with pytest.raises(FloeError, match="RBAC forbids 'get' on leases"):
        store(api, api.register(verbs=set())).holder(30)


def test_a_rotated_token_is_read_again(api: LeaseApiDouble, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    first = api.register()
    token_file.write_text(first)
    lease = KubeLease(api_url=api.url, name=NAME, namespace=NS, identity="a", lease_duration_s=15,
                      token_file=token_file)
    assert lease.try_acquire(30)
    second = api.register()
    token_file.write_text(second)  # the kubelet wrote a new token; the old one then expired
    api.revoke(first)
    lease.renew(30)  # 401 with the old token, the file read again, the call repeated with the new one
    assert [r.status for r in api.requests_of(first)][-1] == 401
    assert [r.status for r in api.requests_of(second)] == [200]


@pytest.mark.parametrize(("changes", "words"), [
    ({"name": "Dagster_Daemon"}, "not a valid Lease name"),
    ({"namespace": "a.b"}, "not a valid namespace"),
    ({"identity": ""}, "identity"),
    ({"lease_duration_s": 0}, "whole number of seconds"),
    ({"api_url": "127.0.0.1:6443"}, "https://host:port"),
    ({"token": None}, "token"),
])
def test_arguments_that_cannot_work_are_refused(changes: dict[str, object], words: str) -> None:
    arguments: dict[str, object] = {"api_url": "https://127.0.0.1:6443", "name": NAME, "namespace": NS,
                                    "identity": "a", "lease_duration_s": 15, "token": "t", **changes}
    with pytest.raises(FloeError, match=words):
        KubeLease(**arguments)  # type: ignore[arg-type]
