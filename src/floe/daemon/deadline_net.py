"""Network steps that end by a deadline, as a leader renewing its lease needs: a name lookup
(which no socket timeout bounds) and each blocking step of a socket."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time


def addresses(host: str, port: int, deadline: float) -> list[tuple[str, int]]:
    """Where ``host`` is, the lookup bounded by ``deadline``.

    The resolver's own retries (timeout x attempts x search domains) can take minutes, past a
    leader's renew deadline: a leader cut off from the network along with its DNS must still
    stop its daemon in time. A lookup still going when time is up ends on its own in its thread.

    Raises:
        OSError: the name does not resolve, or not in time.
    """
    try:
        ipaddress.ip_address(host)
        return [(host, port)]
    except ValueError:
        pass
    found: list[list[tuple[str, int]] | OSError] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            found.append([(str(info[4][0]), port) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)])
        except OSError as exc:
            found.append(exc)
        done.set()

    threading.Thread(target=look_up, name="floe-lease-lookup", daemon=True).start()
    if not done.wait(max(deadline - time.monotonic(), 0.0)):
        raise TimeoutError(f"the name lookup of {host} did not end in time")
    if isinstance(found[0], OSError):
        raise found[0]
    return found[0]


def bound(sock: socket.socket | None, deadline: float) -> None:
    """Let the socket's next blocking step last at most until ``deadline``."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    if sock is not None:
        sock.settimeout(remaining)
