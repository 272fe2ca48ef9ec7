"""Network failures, each mapped to its own message and remediation.

Client libraries wrap the operating system's error in their own exceptions (urllib in
``URLError.reason``, requests and urllib3 in chained exceptions, botocore in its own
classes). :func:`network_failure` digs the root cause out of any of them.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator

from floe.preflight.framework import CheckFailed

_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN}

# Fragments of error texts, for libraries that keep only the text of the cause (libpq, the
# Trino client, gRPC), in the order they are tried.
_TEXT_PATTERNS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("name or service not known", "nodename nor servname", "could not translate host name",
      "temporary failure in name resolution", "getaddrinfo", "dns resolution failed",
      "failed to resolve", "no address associated"), "dns"),
    (("connection refused", "econnrefused", "failed to connect to all addresses"), "refused"),
    (("certificate verify failed", "certificate_verify_failed"), "tls-cert"),
    (("ssl", "tls", "wrong version number"), "tls"),
    (("timed out", "timeout expired", "deadline exceeded", "read timeout", "connect timeout"), "timeout"),
    (("no route to host", "network is unreachable", "host is unreachable"), "unreachable"),
    (("connection reset", "connection aborted", "remote end closed"), "reset"),
)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (causes, contexts, ``reason`` attributes, args)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (current.__cause__, current.__context__, getattr(current, "reason", None),
                      *[arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]):
            if isinstance(inner, BaseException):
                stack.append(inner)


def failure_kind(exc: BaseException) -> str | None:
    """dns, refused, tls-cert, tls, timeout, unreachable or reset — or None if not a network failure."""
    chain = list(causes(exc))
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            return "dns"
        if isinstance(cause, ConnectionRefusedError):
            return "refused"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "tls-cert"
        if isinstance(cause, ssl.SSLError):
            return "tls"
        if isinstance(cause, TimeoutError | socket.timeout):
            return "timeout"
        if isinstance(cause, ConnectionResetError | ConnectionAbortedError):
            return "reset"
        if isinstance(cause, OSError) and cause.errno in _UNREACHABLE:
            return "unreachable"
    text = " ".join(str(cause) for cause in chain).lower()
    for fragments, kind in _TEXT_PATTERNS:
        if any(fragment in text for fragment in fragments):
            return kind
    return None


def network_failure(
    exc: BaseException, *, what: str, host: str, port: int | None, timeout_s: float, field: str
) -> CheckFailed | None:
    """The failure to report when ``exc`` is a network problem reaching ``host``; else None.

    Args:
        exc: What the client raised.
        what: The service, as messages name it ("PostgreSQL", "the REST catalog").
        host: Host name that was contacted.
        port: Port, when known.
        timeout_s: The time limit that applied.
        field: Where in platform.yaml the address is configured, for the remediation.
    """
    kind = failure_kind(exc)
    address = f"{host}:{port}" if port else host
    if kind == "dns":
        return CheckFailed(f"cannot resolve host name '{host}' of {what}",
                           f"check the host name in {field} and that this machine's DNS (or the "
                           "cluster's) knows it")
    if kind == "refused":
        return CheckFailed(f"connection refused by {address}: nothing listens there for {what}",
                           f"start {what}, or correct the host and port in {field}")
    if kind == "tls-cert":
        return CheckFailed(f"the TLS certificate of {address} is not trusted",
                           "install the issuing CA on this machine (or in the image), or use the host "
                           "name the certificate was issued for")
    if kind == "tls":
        return CheckFailed(f"TLS handshake with {address} failed",
                           f"check whether {what} speaks TLS on this port (http:// vs https://, "
                           f"sslmode, insecure) in {field}")
    if kind == "timeout":
        return CheckFailed(f"no answer from {address} within {timeout_s:g}s",
                           "check that the host is reachable from here (firewall, security group, "
                           "network policy) or allow more time with --timeout")
    if kind == "unreachable":
        return CheckFailed(f"no route to {address}",
                           "check the network between this machine and the host (VPN, routing, "
                           "network policy)")
    if kind == "reset":
        return CheckFailed(f"{address} closed the connection before answering",
                           f"check that {field} points at {what} and not at another service, and "
                           "whether a proxy is in between")
    return None
