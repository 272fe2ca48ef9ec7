"""A TCP forwarder that can cut a client off its server: a network partition on one machine.

Not a double of anything: bytes go through unchanged to the real server (PostgreSQL here).
``partition()`` stops forwarding in both directions without closing any socket — the peers
see silence, as behind a dropped route — and ``heal()`` resumes. Closing the proxy closes
every connection.
"""

from __future__ import annotations

import select
import socket
import threading
from types import TracebackType


class TcpProxy:
    """Listens on 127.0.0.1:<port> and forwards every connection to ``target``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._guard = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def partition(self) -> None:
        """From now on nothing passes (connections stay open, silent)."""
        self._open.clear()

    def heal(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed.set()
        self._open.set()
        self._listener.close()
        with self._guard:
            for sock in self._sockets:
                try:
                    sock.close()
                except OSError:
                    pass

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._guard:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        try:
            while not self._closed.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.2)
                if not self._open.is_set():
                    # Partitioned: leave the bytes unread (the peers see silence, not a close).
                    self._open.wait(0.2)
                    continue
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()
