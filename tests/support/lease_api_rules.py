"""How the Kubernetes API server answers for Leases: its ``Status`` errors, and how it decodes and
validates a Lease body. Part of the Lease API TEST DOUBLE (:mod:`tests.support.lease_api_double`);
the wording follows the API server's (generic registry, Lease strategy, coordination validation).
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

GROUP = "coordination.k8s.io"
API_VERSION = f"{GROUP}/v1"
RESOURCE = f"leases.{GROUP}"
# metav1.MicroTime is parsed with Go's RFC3339Micro layout: exactly six fractional digits.
MICROTIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
INT32 = (-(2**31), 2**31 - 1)
OPTIMISTIC_LOCK = "the object has been modified; please apply your changes to the latest version and try again"


class ApiError(Exception):
    """An answer of the API server that is a ``Status`` (any failure)."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                       "message": message, "reason": reason, "code": code}
        if details is not None:
            self.status["details"] = details


def details(name: str | None, **extra: Any) -> dict[str, Any]:
    return {**({"name": name} if name else {}), "group": GROUP, "kind": "leases", **extra}


def not_found(name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{RESOURCE} "{name}" not found', details(name))


def conflict(name: str, why: str = OPTIMISTIC_LOCK) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {RESOURCE} "{name}": {why}', details(name))


def invalid(name: str, field_path: str, value: Any, why: str, kind: str = f"Lease.{GROUP}") -> ApiError:
    cause = {"reason": "FieldValueInvalid", "message": f"Invalid value: {json.dumps(value)}: {why}",
             "field": field_path}
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {field_path}: {cause["message"]}',
                    {"name": name, "group": GROUP, "kind": "Lease", "causes": [cause]})


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _undecodable(where: str, value: Any, go_type: str) -> ApiError:
    kind = {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "value")
    return bad_request(f'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal {kind} into '
                       f"Go struct field {where} of type {go_type}")


def _utc_micro(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decode(body: bytes) -> dict[str, Any]:
    """The request body as the API server's decoder would read it into a Lease (400 when it cannot)."""
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise bad_request(f'Lease in version "v1" cannot be handled as a Lease: invalid JSON: {exc}') from exc
    if not isinstance(obj, dict):
        raise _undecodable("Lease", obj, "v1.Lease")
    if obj.get("apiVersion") not in (None, API_VERSION):
        raise bad_request(f"the API version in the data ({obj['apiVersion']}) does not match the expected API "
                          f"version ({API_VERSION})")
    if obj.get("kind") not in (None, "Lease"):
        raise bad_request(f'Lease in version "v1" cannot be handled as a Lease: the kind in the data '
                          f"({obj['kind']}) is not Lease")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _undecodable("Lease.metadata", metadata, "v1.ObjectMeta")
    meta: dict[str, Any] = {}
    for key in ("name", "namespace", "resourceVersion", "uid", "generateName"):
        if metadata.get(key) is not None:
            if not isinstance(metadata[key], str):
                raise _undecodable(f"ObjectMeta.metadata.{key}", metadata[key], "string")
            meta[key] = metadata[key]
    for key in ("labels", "annotations"):
        if metadata.get(key) is not None:
            if not isinstance(metadata[key], dict) or not all(isinstance(v, str) for v in metadata[key].values()):
                raise _undecodable(f"ObjectMeta.metadata.{key}", metadata[key], "map[string]string")
            meta[key] = dict(metadata[key])
    raw_spec = obj.get("spec") or {}
    if not isinstance(raw_spec, dict):
        raise _undecodable("Lease.spec", raw_spec, "v1.LeaseSpec")
    spec: dict[str, Any] = {}
    for key, kind in (("holderIdentity", str), ("leaseDurationSeconds", int), ("acquireTime", "time"),
                      ("renewTime", "time"), ("leaseTransitions", int), ("strategy", str), ("preferredHolder", str)):
        value = raw_spec.get(key)
        if value is None:  # Go: a nil pointer, omitted from every answer
            continue
        where = f"LeaseSpec.spec.{key}"
        if kind is int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise _undecodable(where, value, "int32")
            if not INT32[0] <= value <= INT32[1]:
                raise bad_request(f'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal '
                                  f"number {value} into Go struct field {where} of type int32")
        elif kind == "time":
            if not isinstance(value, str):
                raise _undecodable(where, value, "v1.MicroTime")
            if not MICROTIME.match(value):
                raise bad_request(f'Lease in version "v1" cannot be handled as a Lease: parsing time "{value}" as '
                                  '"2006-01-02T15:04:05.000000Z07:00": cannot parse')
            value = _utc_micro(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))
        elif not isinstance(value, str):
            raise _undecodable(where, value, "string")
        spec[key] = value
    return {"metadata": meta, "spec": spec}


def validate(name: str, spec: dict[str, Any]) -> None:
    if not name:
        raise ApiError(422, "Invalid", f"Lease.{GROUP} \"\" is invalid: metadata.name: Required value: name or "
                       "generateName is required")
    if len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        raise invalid(name, "metadata.name", name, "a lowercase RFC 1123 subdomain must consist of lower case "
                      "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
    if spec.get("leaseDurationSeconds", 1) <= 0:
        raise invalid(name, "spec.leaseDurationSeconds", spec["leaseDurationSeconds"], "must be greater than 0")
    if spec.get("leaseTransitions", 0) < 0:
        raise invalid(name, "spec.leaseTransitions", spec["leaseTransitions"], "must be greater than or equal to 0")
