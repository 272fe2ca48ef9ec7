"""The Lease API double behaves as the Kubernetes API server does for Leases (it is what the lease
store is tested against, so it is tested first): resourceVersion, conflicts, decoding, validation,
authentication, RBAC, faults, and objects that the Kubernetes schema accepts."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.lease_api_double import LeaseApiDouble

NS = "floe"
ITEM = f"{NS}/leases/dagster-daemon"
COLLECTION = f"{NS}/leases"


def lease(name: str = "dagster-daemon", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15, "leaseTransitions": 0,
                     "acquireTime": "2026-12-07T04:50:24.123456Z", "renewTime": "2026-12-07T04:50:24.123456Z",
                     **spec}}


@pytest.fixture
def api() -> Iterator[LeaseApiDouble]:
    with LeaseApiDouble() as double:
        yield double


@pytest.fixture
def token(api: LeaseApiDouble) -> str:
    return api.register()


def test_an_absent_lease_is_a_not_found_status(api: LeaseApiDouble, token: str) -> None:
    status, answer = api.call(token, "GET", ITEM)
    assert status == 404
    assert answer["kind"] == "Status" and answer["reason"] == "NotFound" and answer["code"] == 404
    assert answer["message"] == 'leases.coordination.k8s.io "dagster-daemon" not found'


def test_create_sets_the_server_fields_and_get_answers_the_same(api: LeaseApiDouble, token: str) -> None:
    status, created = api.call(token, "POST", COLLECTION, lease(holderIdentity=None,
                                                                renewTime="2026-12-07T06:50:24.123456+02:00"))
    assert status == 201
    meta = created["metadata"]
    assert meta["name"] == "dagster-daemon" and meta["namespace"] == NS
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and isinstance(meta["resourceVersion"], str)
    assert "holderIdentity" not in created["spec"]  # a null pointer is omitted, as Go omits it
    assert created["spec"]["renewTime"] == "2026-12-07T04:50:24.123456Z"  # stored in UTC
    assert api.call(token, "GET", ITEM) == (200, created)
    status, again = api.call(token, "POST", COLLECTION, lease())
    assert (status, again["reason"]) == (409, "AlreadyExists")


def test_every_write_moves_one_resource_version_counter_shared_by_all_leases(api: LeaseApiDouble, token: str) -> None:
    _, first = api.call(token, "POST", COLLECTION, lease("one"))
    _, second = api.call(token, "POST", COLLECTION, lease("two"))
    renewed = {**first, "spec": {**first["spec"], "renewTime": "2026-12-07T04:50:26.000001Z"}}
    _, updated = api.call(token, "PUT", f"{NS}/leases/one", renewed)
    versions = [int(x["metadata"]["resourceVersion"]) for x in (first, second, updated)]
    assert versions == sorted(versions) and len(set(versions)) == 3
    assert updated["metadata"]["uid"] == first["metadata"]["uid"]
    assert updated["metadata"]["creationTimestamp"] == first["metadata"]["creationTimestamp"]
    assert api.call(token, "PUT", f"{NS}/leases/one", updated) == (200, updated)  # no change: no write


def test_a_put_with_a_stale_resource_version_is_refused(api: LeaseApiDouble, token: str) -> None:
    _, read = api.call(token, "POST", COLLECTION, lease())
    assert api.call(token, "PUT", ITEM, {**read, "metadata": {**read["metadata"], "resourceVersion": "1"}})[0] == 409
    winner = {**read, "spec": {**read["spec"], "holderIdentity": "pod-b"}}
    loser = {**read, "spec": {**read["spec"], "holderIdentity": "pod-c"}}
    assert api.call(token, "PUT", ITEM, winner)[0] == 200
    status, answer = api.call(token, "PUT", ITEM, loser)  # the same version, now stale
    assert (status, answer["reason"]) == (409, "Conflict")
    assert "the object has been modified" in answer["message"]
    assert api.call(token, "GET", ITEM)[1]["spec"]["holderIdentity"] == "pod-b"


def test_a_put_without_resource_version_is_invalid(api: LeaseApiDouble, token: str) -> None:
    _, read = api.call(token, "POST", COLLECTION, lease())
    unversioned = {**read, "metadata": {k: v for k, v in read["metadata"].items() if k != "resourceVersion"}}
    status, answer = api.call(token, "PUT", ITEM, unversioned)
    assert (status, answer["reason"]) == (422, "Invalid")  # Leases allow no unconditional update
    assert "metadata.resourceVersion" in answer["message"] and "must be specified for an update" in answer["message"]


def test_put_creates_an_absent_lease_unless_it_names_a_uid(api: LeaseApiDouble, token: str) -> None:
    _, read = api.call(token, "POST", COLLECTION, lease())
    assert api.call(token, "DELETE", ITEM)[1]["status"] == "Success"
    status, answer = api.call(token, "PUT", ITEM, read)  # the uid of an object that is gone
    assert (status, answer["reason"]) == (409, "Conflict") and "Precondition failed: UID" in answer["message"]
    status, created = api.call(token, "PUT", ITEM, lease())
    assert status == 201 and created["metadata"]["uid"] != read["metadata"]["uid"]
    other_uid = {**created, "metadata": {**created["metadata"], "uid": read["metadata"]["uid"]}}
    assert api.call(token, "PUT", ITEM, other_uid)[0] == 409


@pytest.mark.parametrize(("body", "status", "words"), [
    (lease(leaseDurationSeconds="15"), 400, "cannot unmarshal string"),
    (lease(leaseTransitions=1.5), 400, "of type int32"),
    (lease(renewTime="2026-12-07T04:50:24Z"), 400, "parsing time"),  # a MicroTime has six digits
    (lease(renewTime="2026-12-07T04:50:24.123Z"), 400, "parsing time"),
    ({**lease(), "apiVersion": "v1"}, 400, "does not match the expected API version"),
    ({**lease(), "kind": "ConfigMap"}, 400, "cannot be handled as a Lease"),
    ({**lease(), "metadata": {"name": "dagster-daemon", "namespace": "other"}}, 400, "namespace"),
    (b"{not json", 400, "cannot be handled as a Lease"),
    (lease(leaseDurationSeconds=0), 422, "spec.leaseDurationSeconds"),
    (lease(leaseTransitions=-1), 422, "spec.leaseTransitions"),
    (lease("Dagster_Daemon"), 422, "metadata.name"),
    ({**lease(), "metadata": {}}, 422, "name or generateName is required"),
])
def test_bodies_are_decoded_and_validated_as_the_api_server_does(
        api: LeaseApiDouble, token: str, body: Any, status: int, words: str) -> None:
    answer_status, answer = api.call(token, "POST", COLLECTION, body)
    assert answer_status == status, answer
    assert answer["kind"] == "Status" and answer["code"] == status and words in answer["message"]
    assert api.lease(NS, "dagster-daemon") is None


def test_an_update_must_name_the_lease_of_its_url(api: LeaseApiDouble, token: str) -> None:
    _, read = api.call(token, "POST", COLLECTION, lease())
    renamed = {**read, "metadata": {**read["metadata"], "name": "other"}}
    status, answer = api.call(token, "PUT", ITEM, renamed)
    assert status == 400 and "does not match the name on the URL" in answer["message"]


def test_a_create_carrying_a_resource_version_is_refused(api: LeaseApiDouble, token: str) -> None:
    body = {**lease(), "metadata": {"name": "dagster-daemon", "resourceVersion": "5"}}
    status, answer = api.call(token, "POST", COLLECTION, body)
    assert status == 500 and "resourceVersion should not be set" in answer["message"]


def test_unknown_tokens_are_unauthorized(api: LeaseApiDouble, token: str) -> None:
    for bad in (None, "not-a-token"):
        status, answer = api.call(bad, "GET", ITEM)
        assert (status, answer["reason"]) == (401, "Unauthorized")
    api.revoke(token)
    assert api.call(token, "GET", ITEM)[0] == 401


def test_rbac_allows_only_the_registered_verbs(api: LeaseApiDouble) -> None:
    reader = api.register(verbs={"get"}, user="system:serviceaccount:floe:reader")
    assert api.call(reader, "GET", ITEM)[0] == 404
    status, answer = api.call(reader, "POST", COLLECTION, lease())
    assert (status, answer["reason"]) == (403, "Forbidden")
    assert answer["message"] == ('leases.coordination.k8s.io is forbidden: User "system:serviceaccount:floe:reader" '
                                 'cannot create resource "leases" in API group "coordination.k8s.io" in the '
                                 'namespace "floe"')


def test_faults_apply_to_one_client_and_every_request_is_recorded(api: LeaseApiDouble, token: str) -> None:
    other = api.register()
    api.refuse(token, status=503)
    assert api.call(token, "GET", ITEM)[0] == 503
    api.refuse(token)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        api.call(token, "GET", ITEM)
    api.partition(token)
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        api.call(token, "GET", ITEM, timeout=0.5)
    assert time.monotonic() - started >= 0.5
    assert api.call(other, "GET", ITEM)[0] == 404  # the other client is not cut off
    api.heal(token)
    assert api.call(token, "GET", ITEM)[0] == 404
    assert [r.status for r in api.requests_of(token)] == [503, None, None, 404]
    assert [r.status for r in api.requests_of(other)] == [404]


def test_the_leases_it_serves_validate_against_the_kubernetes_schema(api: LeaseApiDouble, token: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")
    _, created = api.call(token, "POST", COLLECTION, lease())
    _, released = api.call(token, "PUT", ITEM, {**created, "spec": {**created["spec"], "holderIdentity": None}})
    for version in ("1.29", kubernetes_validate.utils.latest_version()):
        for document in (created, released):
            kubernetes_validate.validate(document, version, strict=True)
    with pytest.raises(kubernetes_validate.ValidationError):  # the check can fail
        kubernetes_validate.validate({**created, "spec": {"holder": "pod-a"}}, "1.29", strict=True)
