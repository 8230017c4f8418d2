"""The simulator's listening socket: connections it accepts send at once (TCP_NODELAY). Without
it every answer waited ~40 ms on loopback for a delayed ACK (headers and body are two writes)."""

from __future__ import annotations

import asyncio
import socket

from ibtui.sim.serve import bind_loopback


async def test_accepted_connections_have_nodelay() -> None:
    sock = bind_loopback("127.0.0.1", 0)
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        assert await asyncio.wait_for(seen, 10) != 0
        writer.close()
