"""What the stream's socket over httpx-ws hands on of the library's events."""

from __future__ import annotations

import pytest
from wsproto.events import BytesMessage, CloseConnection, Event, Pong, TextMessage

from ibtui.ibkr.stream_socket import _HttpxWsSocket


class Session:
    """httpx-ws's AsyncWebSocketSession as the socket uses it: ``receive`` gives events."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events

    async def receive(self) -> Event:
        return self.events.pop(0)


async def test_text_and_bytes_frames_are_handed_on_and_a_close_ends_the_socket() -> None:
    socket = _HttpxWsSocket(
        Session(
            [
                TextMessage('{"topic":"system"}'),
                Pong(b"p"),  # not a frame of data: passed over
                BytesMessage(bytearray(b'{"topic":"sts"}')),
                BytesMessage(b"\xff"),
                CloseConnection(1001, "going away"),
            ]
        )
    )
    assert await socket.receive() == '{"topic":"system"}'
    got = await socket.receive()
    assert got == b'{"topic":"sts"}' and type(got) is bytes
    assert await socket.receive() == b"\xff"
    with pytest.raises(ConnectionError, match=r"closed by the server \(1001\)"):
        await socket.receive()
