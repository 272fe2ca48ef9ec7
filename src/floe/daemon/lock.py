"""What leader election needs from a lease store: take the lease, keep it, give it back.

Two stores implement it: a Kubernetes Lease (:mod:`floe.daemon.kube_lease`) in a cluster, and a
PostgreSQL advisory lock on Dagster's database (:mod:`floe.daemon.pg_lock`) everywhere else.
The elector (:mod:`floe.daemon.election`) owns the timing; a store only answers, within the
time it is given, whether this process holds the lease now.
"""

from __future__ import annotations

from typing import Protocol


class LeaseUnreachable(Exception):
    """The store did not answer in time: whether the lease is still held is unknown."""


class LeaseLost(Exception):
    """The store answered that another holder has the lease (or the session holding it ended)."""


class LeaderLock(Protocol):
    """One process's handle on the lease. Calls are made from one thread, never concurrently."""

    identity: str
    """Who this process is, as the store records it (a pod name, host:pid)."""

    def try_acquire(self, timeout: float) -> bool:
        """Take the lease if it is free or expired; True when this process holds it now.

        False when another holder has a live lease. A standby calls this every retry period.

        Raises:
            LeaseUnreachable: the store did not answer within ``timeout`` seconds.
        """
        ...

    def renew(self, timeout: float) -> None:
        """Confirm this process still holds the lease and extend it.

        Raises:
            LeaseLost: another holder has it (this process must stop its daemon now).
            LeaseUnreachable: no answer within ``timeout`` seconds (the elector keeps trying until its
                renew deadline passes, then stops the daemon).
        """
        ...

    def release(self, timeout: float) -> None:
        """Give the lease back, only if this process still holds it, so a standby takes over at once.

        Never raises: a lease that cannot be released simply expires.
        """
        ...

    def holder(self, timeout: float) -> str | None:
        """The identity holding the lease now, or None when it is free (for status lines).

        Raises:
            LeaseUnreachable: no answer within ``timeout`` seconds.
        """
        ...

    def close(self) -> None:
        """Free the store's resources (connections); does not release the lease."""
        ...
