"""The probe object storage checks write, read back and delete."""

from __future__ import annotations

import uuid

PROBE_BODY = b"floe preflight probe: safe to delete\n"


def probe_key(prefix: str) -> str:
    """A fresh object key for a probe, under the storage's prefix."""
    return "/".join(part for part in (prefix, ".floe-preflight", uuid.uuid4().hex) if part)
