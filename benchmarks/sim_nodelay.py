"""``ibtui sim`` with TCP_NODELAY on its listening socket (accepted sockets inherit it on Linux).

``ibtui.sim.serve.bind_loopback`` creates its socket with ``proto=0``, so asyncio's transports
skip their usual ``TCP_NODELAY`` (``asyncio.base_events._set_nodelay`` checks
``proto == IPPROTO_TCP``). uvicorn writes the status line and headers, then the body, in two
writes: with Nagle's algorithm on, the body waits for the client's delayed ACK, and every response
on loopback takes about 40 ms whatever the client does. The benchmarks measure the clients, not
that stall, so they start the simulator through this wrapper; the report says so.

    python -m benchmarks.sim_nodelay [ibtui sim arguments]
"""

from __future__ import annotations

import socket
import sys

from ibtui.sim import serve

_bind = serve.bind_loopback


def bind_loopback_nodelay(host: str, port: int) -> socket.socket:
    sock = _bind(host, port)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


if __name__ == "__main__":
    serve.bind_loopback = bind_loopback_nodelay
    sys.exit(serve.main(sys.argv[1:]))
