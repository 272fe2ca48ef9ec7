"""Storage: prove the table files' location can be written, read back and cleaned up.

Object stores get a small probe object under ``<prefix>/.floe-preflight/``, written, read,
compared and deleted — the same operations a run performs, with the same credentials.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from floe.preflight.checks.probe import PROBE_BODY, probe_key
from floe.preflight.checks.storage_cloud import adls_check, gcs_check
from floe.preflight.failures import network_failure
from floe.preflight.framework import Check, CheckContext, CheckFailed, Outcome, skipped, writable_directory
from floe.spec.platform import AdlsStorage, GcsStorage, LocalStorage, S3Storage, Storage

FIELD = "storage"
def storage_check(storage: Storage, *, vended: bool) -> Check:
    """The check of the environment's storage.

    Args:
        storage: The storage block.
        vended: The REST catalog vends credentials per table, so storage holds no keys of its
            own; the catalog check covers access then.
    """
    if isinstance(storage, LocalStorage):
        return Check("storage", "storage.local", storage.path, lambda ctx: _local(storage, ctx))
    if vended and not storage.static_credentials():
        target = _object_target(storage)
        return Check("storage", f"storage.{storage.type}", target, skipped(
            "credentials are vended by the REST catalog per table; the catalog check covers access"))
    if isinstance(storage, S3Storage):
        return Check("storage", "storage.s3", _object_target(storage), lambda ctx: _s3(storage, ctx))
    if isinstance(storage, GcsStorage):
        return Check("storage", "storage.gcs", _object_target(storage), lambda ctx: gcs_check(storage, ctx))
    return Check("storage", "storage.adls", _object_target(storage), lambda ctx: adls_check(storage, ctx))


def _object_target(storage: S3Storage | GcsStorage | AdlsStorage) -> str:
    if isinstance(storage, S3Storage):
        where = f"s3://{storage.bucket}/{storage.prefix}".rstrip("/")
        return where + (f" at {storage.endpoint}" if storage.endpoint else "")
    if isinstance(storage, GcsStorage):
        return f"gs://{storage.bucket}/{storage.prefix}".rstrip("/")
    return f"abfss://{storage.authority}/{storage.prefix}".rstrip("/")


def _local(storage: LocalStorage, context: CheckContext) -> Outcome:
    return Outcome(writable_directory(context.resolve_path(storage.path), f"{FIELD}.path"))


def _s3(storage: S3Storage, context: CheckContext) -> Outcome:
    try:  # botocore ships no type stubs
        session = import_module("botocore.session")
        Config = import_module("botocore.config").Config
        errors = import_module("botocore.exceptions")
    except ModuleNotFoundError:
        raise CheckFailed("checking S3 needs botocore, which is not installed",
                          "pip install 'floe-runtime[s3]'") from None
    key_id = context.secrets.get(storage.access_key_id, f"{FIELD}.access_key_id")
    secret = context.secrets.get(storage.secret_access_key, f"{FIELD}.secret_access_key")
    timeout = context.remaining()
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1},
                    s3={"addressing_style": "path" if storage.path_style else "auto"})
    region = storage.region or ("us-east-1" if storage.endpoint else None)
    client: Any = session.get_session().create_client(
        "s3", region_name=region, endpoint_url=storage.endpoint, aws_access_key_id=key_id,
        aws_secret_access_key=secret, config=config)
    key = probe_key(storage.prefix)
    step = "reach the bucket"
    try:
        # A listing (not HEAD) so that a refusal comes with its error code: a wrong key and a
        # missing permission are both a bare 403 to HEAD. Runs need s3:ListBucket anyway.
        client.list_objects_v2(Bucket=storage.bucket, Prefix=storage.prefix, MaxKeys=1)
        step = "write a probe object"
        client.put_object(Bucket=storage.bucket, Key=key, Body=PROBE_BODY)
        step = "read the probe object back"
        body = client.get_object(Bucket=storage.bucket, Key=key)["Body"].read()
        step = "delete the probe object"
        client.delete_object(Bucket=storage.bucket, Key=key)
    except errors.NoCredentialsError:
        raise CheckFailed("no AWS credentials were found for S3",
                          f"set {FIELD}.access_key_id and {FIELD}.secret_access_key as secret references, "
                          "or give the workload an identity (IAM role, IRSA, instance profile)") from None
    except errors.ClientError as exc:
        raise _s3_client_failure(exc, storage, step, key) from None
    except errors.BotoCoreError as exc:
        host = storage.endpoint or f"{storage.bucket}.s3.amazonaws.com"
        network = network_failure(exc, what="S3", host=host.split("://")[-1].split("/")[0], port=None,
                                  timeout_s=context.timeout_s, field=f"{FIELD}.endpoint")
        raise (network or CheckFailed(f"S3: cannot {step}: {exc}", f"check {FIELD}")) from None
    if body != PROBE_BODY:
        raise CheckFailed(f"S3 returned other bytes for s3://{storage.bucket}/{key} than were written",
                          "check the store (a proxy or a misconfigured S3-compatible server)")
    return Outcome(f"bucket '{storage.bucket}' answers; wrote, read and deleted a probe object",
                   details={"region": client.meta.region_name, "addressing": "path" if storage.path_style else "auto"})


def _s3_client_failure(exc: Any, storage: S3Storage, step: str, key: str) -> CheckFailed:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    where = f"s3://{storage.bucket}"
    if code in {"NoSuchBucket", "404", "NotFound"} and step == "reach the bucket":
        return CheckFailed(f"bucket '{storage.bucket}' does not exist"
                           + (f" at {storage.endpoint}" if storage.endpoint else ""),
                           f"create the bucket, or fix {FIELD}.bucket")
    if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "AuthorizationHeaderMalformed"}:
        return CheckFailed(f"S3 rejected the credentials ({code})",
                           f"check the secrets of {FIELD}.access_key_id and {FIELD}.secret_access_key")
    if code in {"ExpiredToken", "TokenRefreshRequired", "RequestExpired"}:
        return CheckFailed(f"the S3 credentials have expired ({code})",
                           "renew the temporary credentials (or the workload's role session) and update the secret")
    if code in {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}:
        return CheckFailed(f"S3 denied access: cannot {step} in {where} ({code or status})",
                           f"allow s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on {where}/"
                           f"{storage.prefix}* to this identity")
    if code in {"PermanentRedirect", "301", "AuthorizationQueryParametersError", "IllegalLocationConstraintException"}:
        configured = f"than '{storage.region}'" if storage.region else "than the default (us-east-1)"
        return CheckFailed(f"bucket '{storage.bucket}' is in another region {configured}",
                           f"set {FIELD}.region to the bucket's region")
    return CheckFailed(f"S3: cannot {step} ({where}/{key}): {code or status} {error.get('Message', '')}".strip(),
                       f"check {FIELD} in platform.yaml")
