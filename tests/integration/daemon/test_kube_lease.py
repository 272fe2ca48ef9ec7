"""KubeLease, the Kubernetes lease store of leader election, against the Lease API double
(tests/support/lease_api_double.py: the real protocol — resourceVersion, 409 on conflict — since a
kube-apiserver cannot run here): who gets the lease, when a standby may take it over, and what a
cut-off leader sees. Leases last 2 s here; deadlines to observe them are generous (a loaded machine)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from floe.daemon.kube_lease import KubeLease
from floe.daemon.lock import LeaseLost, LeaseUnreachable
from tests.support.lease_api_double import LeaseApiDouble

pytestmark = pytest.mark.integration

NS = "floe"
NAME = "dagster-daemon"
ITEM = f"{NS}/leases/{NAME}"
DURATION = 2
PATIENCE = 60.0  # how long a test waits for something that must happen (never how long it should take)


@pytest.fixture
def api() -> Iterator[LeaseApiDouble]:
    with LeaseApiDouble() as double:
        yield double


TOKENS: dict[int, str] = {}


@pytest.fixture
def candidate(api: LeaseApiDouble) -> Iterator[Callable[..., KubeLease]]:
    """A new KubeLease for an identity, with a token of its own (so the double can fault it alone)."""

    def make(identity: str, *, duration: int = DURATION) -> KubeLease:
        token = api.register()
        lease = KubeLease(api_url=api.url, name=NAME, namespace=NS, identity=identity, lease_duration_s=duration,
                          token=token)
        TOKENS[id(lease)] = token
        return lease

    yield make
    TOKENS.clear()


def token_of(lease: KubeLease) -> str:
    return TOKENS[id(lease)]


def stored(api: LeaseApiDouble) -> dict:
    lease = api.lease(NS, NAME)
    assert lease is not None
    return lease


def poll_until_acquired(lease: KubeLease, every: float = 0.2) -> float:
    """Call try_acquire until it wins; the monotonic time it did."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if lease.try_acquire(30):
            return time.monotonic()
        time.sleep(every)
    raise AssertionError(f"{lease.identity} did not acquire the lease within {PATIENCE}s")


def test_the_first_acquire_creates_the_lease(api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    a = candidate("pod-a")
    assert a.holder(30) is None
    assert a.try_acquire(30)
    spec = stored(api)["spec"]
    assert spec["holderIdentity"] == "pod-a" and spec["leaseDurationSeconds"] == DURATION
    assert spec["leaseTransitions"] == 0 and spec["acquireTime"] == spec["renewTime"]
    assert [(r.method, r.status) for r in api.requests_of(token_of(a))][-2:] == [("GET", 404), ("POST", 201)]
    assert candidate("pod-b").holder(30) == "pod-a"


def test_a_second_identity_gets_nothing_while_the_lease_is_renewed(
        api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    a, b = candidate("pod-a"), candidate("pod-b")
    assert a.try_acquire(30)
    until = time.monotonic() + 3 * DURATION
    tries = 0
    while time.monotonic() < until:  # three lease durations, the leader renewing all along
        a.renew(30)
        assert not b.try_acquire(30)
        tries += 1
        time.sleep(0.2)
    assert tries >= 3 and stored(api)["spec"]["holderIdentity"] == "pod-a"
    assert a.try_acquire(30)  # the holder asking again keeps it


def test_a_standby_takes_over_only_a_lease_duration_after_the_last_renewal(
        api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    a, b = candidate("pod-a"), candidate("pod-b")
    assert a.try_acquire(30)
    assert not b.try_acquire(30)
    a.renew(30)
    last_renewal = time.monotonic()  # a stops renewing here (as if killed)
    took_over = poll_until_acquired(b)
    assert took_over - last_renewal >= DURATION
    spec = stored(api)["spec"]
    assert spec["holderIdentity"] == "pod-b" and spec["leaseTransitions"] == 1
    with pytest.raises(LeaseLost, match="pod-b"):  # the old leader, back, learns it lost
        a.renew(30)
    assert stored(api)["spec"]["holderIdentity"] == "pod-b"


def test_the_holders_clock_is_never_trusted(api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    """A record renewed 'an hour ago' by another clock still gets a full lease duration from us."""
    ghost = api.register()
    status, _ = api.call(ghost, "POST", f"{NS}/leases", {
        "metadata": {"name": NAME},
        "spec": {"holderIdentity": "pod-ghost", "leaseDurationSeconds": DURATION, "leaseTransitions": 4,
                 "acquireTime": "2026-12-07T03:00:00.000000Z", "renewTime": "2026-12-07T03:00:00.000000Z"}})
    assert status == 201
    b = candidate("pod-b")
    first_seen = time.monotonic()
    assert not b.try_acquire(30)
    took_over = poll_until_acquired(b)
    assert took_over - first_seen >= DURATION
    assert stored(api)["spec"]["leaseTransitions"] == 5


def test_a_standby_uses_the_duration_the_holder_wrote(api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    a, b = candidate("pod-a", duration=4), candidate("pod-b", duration=1)
    assert a.try_acquire(30)
    first_seen = time.monotonic()
    assert not b.try_acquire(30)
    assert poll_until_acquired(b) - first_seen >= 4


@pytest.mark.parametrize("lease_state", ["absent", "released"])
def test_concurrent_acquirers_exactly_one_wins(
        api: LeaseApiDouble, candidate: Callable[..., KubeLease], lease_state: str) -> None:
    if lease_state == "released":
        first = candidate("pod-first")
        assert first.try_acquire(30)
        first.release(30)
        assert first.holder(30) is None
    contenders = [candidate(f"pod-{n}") for n in range(6)]
    start = threading.Barrier(len(contenders))
    results: dict[str, bool | BaseException] = {}

    def contend(lease: KubeLease) -> None:
        start.wait()
        try:
            results[lease.identity] = lease.try_acquire(30)
        except BaseException as exc:
            results[lease.identity] = exc

    threads = [threading.Thread(target=contend, args=(lease,)) for lease in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    winners = [identity for identity, won in results.items() if won is True]
    assert len(results) == len(contenders) and all(isinstance(won, bool) for won in results.values()), results
    assert len(winners) == 1 and stored(api)["spec"]["holderIdentity"] == winners[0]
    # The losers lost on the server's compare-and-swap, or saw the winner's record first.
    writes = [r for lease in contenders for r in api.requests_of(token_of(lease)) if r.method in ("POST", "PUT")]
    assert sum(1 for r in writes if r.status in (200, 201)) == 1
    assert all(r.status == 409 for r in writes if r.status not in (200, 201))


def test_renew_survives_its_own_lost_answer(api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    """Our PUT went through but its answer was lost: the next renew sees 409, reads, finds us, renews."""
    a = candidate("pod-a")
    assert a.try_acquire(30)
    same_identity = candidate("pod-a")
    assert same_identity.try_acquire(30)  # the write whose answer a never saw
    version = stored(api)["metadata"]["resourceVersion"]
    a.renew(30)
    statuses = [(r.method, r.status) for r in api.requests_of(token_of(a))][-3:]
    assert statuses == [("PUT", 409), ("GET", 200), ("PUT", 200)]
    assert stored(api)["metadata"]["resourceVersion"] != version
    assert stored(api)["spec"]["holderIdentity"] == "pod-a"


def test_a_renewal_delivered_after_a_takeover_cannot_undo_it(
        api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    """The leader's renewal is held in the network until a standby has taken over; served late, it
    names a version that is gone (409), and the leader learns it lost instead of taking back the lease."""
    a, b = candidate("pod-a"), candidate("pod-b")
    assert a.try_acquire(30)
    api.hold(token_of(a))
    outcome: list[BaseException | None] = []

    def renew() -> None:
        try:
            a.renew(PATIENCE)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    renewing = threading.Thread(target=renew)
    renewing.start()
    deadline = time.monotonic() + PATIENCE
    while not any(r.method == "PUT" for r in api.requests_of(token_of(a))):  # a's renewal is on its way
        assert time.monotonic() < deadline, "a's renewal never reached the double"
        time.sleep(0.05)
    poll_until_acquired(b)
    held = [r for r in api.requests_of(token_of(a)) if r.method == "PUT"]
    assert [r.status for r in held] == [None]  # and still unanswered
    api.heal(token_of(a))
    renewing.join(PATIENCE)
    assert len(outcome) == 1 and isinstance(outcome[0], LeaseLost), outcome
    assert [(r.method, r.status) for r in api.requests_of(token_of(a))][-2:] == [("PUT", 409), ("GET", 200)]
    assert stored(api)["spec"]["holderIdentity"] == "pod-b"


def test_renew_of_a_deleted_lease_is_lost(api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    a = candidate("pod-a")
    assert a.try_acquire(30)
    assert api.call(api.register(), "DELETE", ITEM)[0] == 200
    with pytest.raises(LeaseLost, match="deleted"):
        a.renew(30)
    assert api.lease(NS, NAME) is None  # not recreated behind the elector's back


def test_a_partitioned_leader_is_unreachable_within_its_timeout_and_sends_nothing_after(
        api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    a = candidate("pod-a")
    assert a.try_acquire(30)
    before = stored(api)
    api.partition(token_of(a))
    timeout = 1.5
    started = time.monotonic()
    with pytest.raises(LeaseUnreachable):
        a.renew(timeout)
    gave_up = time.monotonic()
    assert timeout - 0.1 <= gave_up - started <= timeout + 1.0
    with pytest.raises(LeaseUnreachable):
        a.try_acquire(timeout)
    last_call = time.monotonic()
    time.sleep(0.5)  # anything still on its way would have arrived by now
    sent = api.requests_of(token_of(a))
    assert [r.status for r in sent[-2:]] == [None, None]  # one request each, never answered
    assert all(r.at <= last_call for r in sent)
    assert stored(api) == before  # and nothing was written


def test_an_api_server_named_by_host_name_is_looked_up_and_reached(api: LeaseApiDouble) -> None:
    token = api.register()
    by_name = KubeLease(api_url=api.url.replace("127.0.0.1", "localhost"), name=NAME, namespace=NS,
                        identity="pod-a", lease_duration_s=DURATION, token=token)
    assert by_name.try_acquire(30)  # localhost may list ::1 first: the double listens on 127.0.0.1 only
    assert stored(api)["spec"]["holderIdentity"] == "pod-a"


def test_a_name_lookup_that_never_answers_ends_within_the_calls_timeout(
        api: LeaseApiDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    """A leader cut off along with its DNS: the resolver's own retries can take minutes, past the
    renew deadline. TEST DOUBLE: a DNS server that never answers cannot be set up here (the
    machine's resolver configuration is not the test's), so the lookup itself is made to hang."""
    import socket

    hung, released = threading.Event(), threading.Event()
    real = socket.getaddrinfo

    def never_answers(host: str, *args: object, **kwargs: object) -> object:
        if host == "api.cluster.invalid":
            hung.set()
            released.wait(120)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", never_answers)
    lease = KubeLease(api_url=f"http://api.cluster.invalid:{api.port}", name=NAME, namespace=NS,
                      identity="pod-a", lease_duration_s=DURATION, token=api.register())
    started = time.monotonic()
    try:
        with pytest.raises(LeaseUnreachable, match=r"name lookup of api\.cluster\.invalid"):
            lease.try_acquire(1.5)
        assert hung.is_set()
        assert time.monotonic() - started <= 1.5 + 5.0  # its timeout, not the resolver's minutes
    finally:
        released.set()


def test_a_refused_leader_is_unreachable_at_once(api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    a = candidate("pod-a")
    assert a.try_acquire(30)
    for status in (None, 503, 429):
        api.refuse(token_of(a), status=status)
        started = time.monotonic()
        with pytest.raises(LeaseUnreachable):
            a.renew(30)
        assert time.monotonic() - started < 15  # far from the 30 s it was given: it did not wait
    api.heal(token_of(a))
    a.renew(30)
    assert stored(api)["spec"]["holderIdentity"] == "pod-a"


def test_release_by_a_fresh_object_frees_the_lease_and_a_standby_takes_it_at_once(
        api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    a, b = candidate("pod-a"), candidate("pod-b")
    assert a.try_acquire(30)
    assert not b.try_acquire(30)
    guardian = candidate("pod-a")  # releases for a wrapper killed with kill -9: no memory of a's writes
    guardian.release(30)
    spec = stored(api)["spec"]
    assert "holderIdentity" not in spec and guardian.holder(30) is None
    assert b.try_acquire(30)  # the very next try, no lease duration to wait
    assert stored(api)["spec"]["holderIdentity"] == "pod-b" and stored(api)["spec"]["leaseTransitions"] == 1
    with pytest.raises(LeaseLost):
        a.renew(30)


def test_release_racing_the_holders_last_renewal_still_frees_the_lease(
        api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    """The guardian reads the Lease, then the killed wrapper's last renewal (in flight when it died)
    lands before the guardian's write: that write gets 409, and the guardian must read again and
    free the lease, still pod-a's — not leave it to expire a lease duration later."""
    a, b = candidate("pod-a"), candidate("pod-b")
    assert a.try_acquire(30)
    guardian = candidate("pod-a")
    read = guardian._get
    late = []

    def read_then_the_renewal_lands(deadline: float):  # the concurrent write, between read and write
        lease = read(deadline)
        if not late:
            late.append(a.renew(30))
        return lease

    guardian._get = read_then_the_renewal_lands  # type: ignore[method-assign]
    guardian.release(30)
    assert late, "the renewal was never interleaved"
    assert [(r.method, r.status) for r in api.requests_of(token_of(guardian))] == [
        ("GET", 200), ("PUT", 409), ("GET", 200), ("PUT", 200)]
    assert "holderIdentity" not in stored(api)["spec"]
    assert b.try_acquire(30)


def test_release_by_a_non_holder_touches_nothing(api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    a, c = candidate("pod-a"), candidate("pod-c")
    assert a.try_acquire(30)
    before = stored(api)
    c.release(30)
    assert stored(api) == before
    assert [r.method for r in api.requests_of(token_of(c))] == ["GET"]
    a.renew(30)  # still a's


def test_release_never_raises(api: LeaseApiDouble, candidate: Callable[..., KubeLease]) -> None:
    a = candidate("pod-a")
    assert a.try_acquire(30)
    api.partition(token_of(a))
    started = time.monotonic()
    a.release(0.5)  # no answer: the lease will expire instead
    assert time.monotonic() - started < 0.5 + 1.0
    api.heal(token_of(a))
    assert stored(api)["spec"]["holderIdentity"] == "pod-a"
    KubeLease(api_url=api.url, name=NAME, namespace=NS, identity="pod-a", lease_duration_s=DURATION,
              token="refused").release(30)  # 401: still no exception
    a.close()
