"""Google Cloud Storage and Azure Data Lake Storage Gen2, spoken over their REST APIs.

No Google or Azure SDK is a dependency of floe, so these checks use the JSON API (GCS) and
the DFS API (ADLS) directly: the probe works wherever the HTTPS endpoint is reachable. Where
no credential is configured they ask the platform's metadata service for a workload token,
as the SDKs would (GKE workload identity, Azure managed identity).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import formatdate
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from floe.preflight.checks.probe import PROBE_BODY, probe_key
from floe.preflight.framework import CheckContext, CheckFailed, Outcome
from floe.preflight.http import HttpAnswer, request, status_failure
from floe.spec.platform import AdlsStorage, GcsStorage

FIELD = "storage"
_GOOGLE = "https://storage.googleapis.com"
_GCE_TOKEN = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
_AZURE_IMDS = ("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
               "&resource=https%3A%2F%2Fstorage.azure.com%2F")
_AZURE_VERSION = "2021-08-06"
# A metadata service answers at once where there is one; elsewhere it must not eat the budget.
_METADATA_TIMEOUT_S = 0.5


def _workload_token(url: str, headers: dict[str, str], context: CheckContext, what: str) -> str | None:
    try:
        answer = request("GET", url, headers=headers, context=context, cap_s=_METADATA_TIMEOUT_S,
                         what=what, field=FIELD)
    except CheckFailed:
        return None
    document = answer.json()
    token = document.get("access_token") if answer.status == 200 and isinstance(document, dict) else None
    if isinstance(token, str):
        context.secrets.remember(token)
        return token
    return None


def gcs_check(storage: GcsStorage, context: CheckContext) -> Outcome:
    """Bucket metadata, then upload, download and delete a probe object (JSON API)."""
    base = (storage.endpoint or _GOOGLE).rstrip("/")
    token = context.secrets.get(storage.access_token, f"{FIELD}.access_token")
    if token is None and storage.endpoint is None:
        token = _workload_token(_GCE_TOKEN, {"Metadata-Flavor": "Google"}, context, "the GCE metadata server")
        if token is None:
            raise CheckFailed("no Google credentials: storage.access_token is not set and no metadata server "
                              "answered (workload identity)",
                              f"set {FIELD}.access_token as a secret reference, or run where workload identity "
                              "gives the pod a service account")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    credential = f"{FIELD}.access_token (or the workload's service account)"
    key = probe_key(storage.prefix)
    object_path = f"{base}/storage/v1/b/{storage.bucket}/o/{quote(key, safe='')}"

    def call(method: str, url: str, ok: set[int], step: str, body: bytes | None = None) -> HttpAnswer:
        answer = request(method, url, headers=headers, body=body, context=context,
                         what="Google Cloud Storage", field=f"{FIELD}.endpoint")
        if answer.status == 404 and step == "bucket":
            raise CheckFailed(f"bucket '{storage.bucket}' does not exist", f"create it, or fix {FIELD}.bucket")
        if answer.status not in ok:
            raise status_failure(answer, what="Google Cloud Storage", url=url, field=FIELD, credential=credential)
        return answer

    call("GET", f"{base}/storage/v1/b/{storage.bucket}", {200}, "bucket")
    call("POST", f"{base}/upload/storage/v1/b/{storage.bucket}/o?" + urlencode({"uploadType": "media", "name": key}),
         {200}, "write", PROBE_BODY)
    read = call("GET", object_path + "?alt=media", {200}, "read")
    call("DELETE", object_path, {200, 204}, "delete")
    if read.body != PROBE_BODY:
        raise CheckFailed("GCS returned other bytes for the probe object than were written",
                          "check the endpoint (a proxy or an emulator that mangles objects)")
    return Outcome(f"bucket '{storage.bucket}' answers; wrote, read and deleted a probe object")


def adls_check(storage: AdlsStorage, context: CheckContext) -> Outcome:
    """File system properties, then create, append, flush, read and delete a probe file (DFS API)."""
    base = f"https://{storage.account_name}.dfs.core.windows.net"
    sas = context.secrets.get(storage.sas_token, f"{FIELD}.sas_token")
    account_key = context.secrets.get(storage.account_key, f"{FIELD}.account_key")
    bearer = _azure_token(storage, context) if sas is None and account_key is None else None
    credential = f"the credential of {FIELD} (account_key, sas_token or service principal)"
    key = probe_key(storage.prefix)

    def call(method: str, path: str, query: dict[str, str], ok: set[int], step: str,
             body: bytes = b"") -> HttpAnswer:
        url = f"{base}/{quote(path)}" + (f"?{urlencode(query)}" if query else "")
        headers = {"x-ms-version": _AZURE_VERSION, "x-ms-date": formatdate(usegmt=True)}
        if method in {"PUT", "PATCH"}:
            headers["Content-Length"] = str(len(body))
        if sas is not None:
            url += ("&" if query else "?") + sas.lstrip("?")
        elif account_key is not None:
            headers["Authorization"] = _shared_key(storage.account_name, account_key, method, url, headers)
        elif bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        answer = request(method, url, headers=headers, body=body if method in {"PUT", "PATCH"} else None,
                         context=context, what="Azure Data Lake Storage", field=f"{FIELD}.account_name")
        if answer.status == 404 and step == "container":
            raise CheckFailed(f"container '{storage.container}' does not exist in account '{storage.account_name}'",
                              f"create it, or fix {FIELD}.container")
        if answer.status not in ok:
            raise status_failure(answer, what="Azure Data Lake Storage", url=url, field=FIELD, credential=credential)
        return answer

    call("HEAD", storage.container, {"resource": "filesystem"}, {200}, "container")
    path = f"{storage.container}/{key}"
    call("PUT", path, {"resource": "file"}, {201}, "create")
    call("PATCH", path, {"action": "append", "position": "0"}, {202}, "append", PROBE_BODY)
    call("PATCH", path, {"action": "flush", "position": str(len(PROBE_BODY))}, {200}, "flush")
    read = call("GET", path, {}, {200}, "read")
    call("DELETE", path, {}, {200}, "delete")
    if read.body != PROBE_BODY:
        raise CheckFailed("ADLS returned other bytes for the probe file than were written",
                          "check the account (a proxy in between?)")
    return Outcome(f"container '{storage.container}' answers; wrote, read and deleted a probe file")


def _azure_token(storage: AdlsStorage, context: CheckContext) -> str:
    """A bearer token: the service principal's (client credentials, form-encoded), else managed identity."""
    secret = context.secrets.get(storage.client_secret, f"{FIELD}.client_secret")
    if secret is None or storage.tenant_id is None or storage.client_id is None:
        token = _workload_token(_AZURE_IMDS, {"Metadata": "true"}, context, "Azure instance metadata")
        if token is None:
            raise CheckFailed("no Azure credentials: no account_key, sas_token or service principal is set and "
                              "no managed identity answered",
                              f"set one of {FIELD}.account_key, {FIELD}.sas_token or a service principal "
                              "(tenant_id, client_id, client_secret)")
        return token
    url = f"https://login.microsoftonline.com/{quote(storage.tenant_id)}/oauth2/v2.0/token"
    form = urlencode({"grant_type": "client_credentials", "client_id": storage.client_id,
                      "client_secret": secret, "scope": "https://storage.azure.com/.default"}).encode()
    answer = request("POST", url, body=form, headers={"Content-Type": "application/x-www-form-urlencoded"},
                     context=context, what="Microsoft Entra ID", field=f"{FIELD}.tenant_id")
    document = answer.json()
    token = document.get("access_token") if answer.status == 200 and isinstance(document, dict) else None
    if not isinstance(token, str):
        raise CheckFailed(f"Entra ID refused a token for client '{storage.client_id}' (HTTP {answer.status}): "
                          f"{answer.error_text()}",
                          f"check {FIELD}.tenant_id, {FIELD}.client_id and the client secret (expired?)")
    context.secrets.remember(token)
    return token


def _shared_key(account: str, key: str, method: str, url: str, headers: dict[str, str]) -> str:
    """The ``SharedKey`` Authorization header of an Azure Storage request."""
    parts = urlsplit(url)
    length = headers.get("Content-Length", "")
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in
                                sorted((k.lower(), v) for k, v in headers.items() if k.lower().startswith("x-ms-")))
    resource = f"/{account}{parts.path}"
    for name, value in sorted((k.lower(), v) for k, v in parse_qsl(parts.query)):
        resource += f"\n{name}:{value}"
    to_sign = "\n".join([method, "", "", "" if length == "0" else length, "", "", "", "", "", "", "", "",
                         canonical_headers + resource])
    try:
        secret = base64.b64decode(key, validate=True)
    except ValueError:
        raise CheckFailed(f"the account key of '{account}' is not base64", f"copy the key again into the secret "
                          f"of {FIELD}.account_key (Azure portal: Access keys)") from None
    digest = hmac.new(secret, to_sign.encode(), hashlib.sha256).digest()
    return f"SharedKey {account}:{base64.b64encode(digest).decode()}"
