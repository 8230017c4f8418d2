"""The console's CPU per pushed ``smd`` frame, from the socket to the QuoteView (a
micro-benchmark for benchmark 9's read path; not part of ``benchmarks.run``).

``python -m benchmarks.bench_frames [--quick] [--runs N] [--no-sim]``

*ours*: ``MarketStream`` reads frames from a scripted socket (no library, no network, no
suspension between frames) and hands the quotes through the console's adapter
(``ibtui.adapters.stream``: ``quote_view``) to a sink that keeps them. The frames are built as
``ibtui sim`` builds its ``smd`` pushes (``server_id``, ``conidEx``, ``conid``, ``_updated``,
``6119``, the fields that changed, ``topic``), 100 conids a second for a trading minute.

*loopback* (``ibtui sim`` as a child process, as benchmark 9 runs it; 100 conids streamed, a
burst of ~100 frames a second): ``process_time`` of this process over a span of wall time per
frame received, for

* ``httpx-ws session``: httpx-ws's ``AsyncWebSocketSession.receive`` in a loop, nothing else
  (the library's share: httpx-ws, wsproto, anyio, the event loop's wake-ups);
* ``httpx-ws socket``: the same through ``stream_socket``'s ``StreamSocket.receive``;
* ``console path``: ``ClientStream`` as the console runs it (httpx-ws, ``MarketStream``, the
  adapter) to a sink;
* ``websockets recv``: the ``websockets`` library's asyncio client ``recv`` in a loop, when it
  is installed (a comparison only: the console uses httpx-ws);
* ``console path (websockets)``: ``MarketStream`` and the adapter over a ``websockets``
  connector of this script's.

Each figure is the median of ``--runs`` runs, in µs of CPU per frame (over loopback, with the
share of it spent in the kernel: the event loop's ``epoll`` and the socket's reads).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence, Sized
from pathlib import Path
from typing import Any

CONIDS = 100
FIELDS = ("31", "84", "86", "85", "88", "7059", "87", "7762", "82", "83", "70", "71")
FIELDS += ("7295", "7296", "7741", "7635")


# --- the frames ----------------------------------------------------------------------------


def _volume(v: int) -> str:
    if v < 1_000:
        return str(v)
    if v < 1_000_000:
        k = v / 1_000
        return f"{k:.0f}K" if k >= 100 else f"{k:.1f}K"
    return f"{v / 1_000_000:.1f}M"


def make_frames(seconds: int, seed: int = 1) -> list[str]:
    """``seconds`` bursts of one ``smd`` frame per conid, each with the fields that changed
    since the conid's previous frame (the first frame of each carries all of them)."""
    rng = random.Random(seed)
    sent: dict[int, dict[str, str]] = {}
    state: dict[int, list[float]] = {}
    frames: list[str] = []
    stamp = 1_765_000_000_000
    for second in range(seconds):
        for i in range(CONIDS):
            conid = 265598 + i * 7
            prior, high, low, volume = state.setdefault(
                conid, [p := rng.uniform(20, 600), p, p, rng.randrange(10**5, 10**7)]
            )
            last = prior * (1 + rng.gauss(0, 0.01))
            spread = max(0.01, round(last * 0.0004, 2))
            high, low = max(high, last), min(low, last)
            volume += rng.randrange(0, 5000)
            state[conid] = [prior, high, low, volume]
            change = last - prior
            values = {
                "31": f"{last:.2f}",
                "84": f"{last - spread / 2:.2f}",
                "86": f"{last + spread / 2:.2f}",
                "85": f"{rng.randrange(1, 4000):,}",
                "88": f"{rng.randrange(1, 4000):,}",
                "7059": str(rng.randrange(1, 500)),
                "87": _volume(volume),
                "7762": str(volume),
                "82": f"{change:.2f}",
                "83": f"{change / prior * 100:.2f}",
                "70": f"{high:.2f}",
                "71": f"{low:.2f}",
                "7295": f"{prior:.2f}",
                "7296": f"{last:.2f}",
                "7741": f"{prior:.2f}",
                "7635": f"{last:.2f}",
                "6509": "RpB",
            }
            known = sent.setdefault(conid, {})
            changed = {k: v for k, v in values.items() if known.get(k) != v}
            known.update(changed)
            server_id = f"q{i}"
            frame = {
                "server_id": server_id,
                "conidEx": str(conid),
                "conid": conid,
                "_updated": stamp + second * 1000 + i,
                "6119": server_id,
                **changed,
                "topic": f"smd+{conid}",
            }
            frames.append(json.dumps(frame))
    return frames


# --- (a) our code alone --------------------------------------------------------------------


class _Client:
    """What MarketStream uses of IbkrClient."""

    base_url = "https://api.ibkr.com/v1/api/"
    tokens = None

    async def tickle(self, *, fresh_within: float = 0.0) -> Any:
        class Tickled:
            session = "0123456789abcdef"

        return Tickled()

    def watch_sessions(self, callback: Callable[[str], None]) -> Callable[[], None]:
        return lambda: None


class _Done(Exception):
    pass


class _Sink:
    def __init__(self) -> None:
        self.calls = 0
        self.views = 0

    def quotes(self, quotes: Sequence[Any]) -> None:
        self.calls += 1
        self.views += len(quotes)

    def orders(self, orders: Sequence[Any]) -> None:
        pass

    def pnl(self, rows: Sequence[Any]) -> None:
        pass

    def state(self, state: Any) -> None:
        pass


def _scripted(frames: Sequence[str]) -> tuple[Any, Callable[[], float]]:
    """A connector whose socket hands out the greeting, then ``frames`` (once subscribed), then
    ends the run; and a function that says the CPU the frames took."""
    greeting = [
        json.dumps({"topic": "system", "success": "u", "isFT": False, "isPaper": True}),
        json.dumps({"topic": "sts", "args": {"authenticated": True, "competing": False}}),
    ]
    cpu = [0.0, 0.0]
    subscribed = asyncio.Event()
    sent = [0]

    class Socket:
        def __init__(self) -> None:
            self.items = iter(frames)
            self.started = False

        async def send_text(self, text: str) -> None:
            if text.startswith("smd+"):
                sent[0] += 1
                if sent[0] >= CONIDS:
                    subscribed.set()

        async def receive(self) -> str | bytes:
            if greeting:
                return greeting.pop(0)
            if not self.started:
                await subscribed.wait()
                self.started = True
                cpu[0] = time.process_time()
            item = next(self.items, None)
            if item is None:
                cpu[1] = time.process_time()
                raise _Done
            return item

    @contextlib.asynccontextmanager
    async def connect(url: str, headers: Mapping[str, str]) -> AsyncIterator[Any]:
        yield Socket()

    return connect, lambda: cpu[1] - cpu[0]


async def ours_once(frames: Sequence[str]) -> float:
    """CPU seconds per frame of MarketStream + the adapter over a scripted socket."""
    from ibtui.adapters.stream import ClientStream, _Events
    from ibtui.ibkr.stream import MarketStream

    connect, spent = _scripted(frames)
    sink = _Sink()
    owner = ClientStream(_no_client, lambda: "t")
    done = asyncio.Event()

    class Events(_Events):
        def state(self, state: Any) -> None:
            if state.status == "down":
                done.set()

    stream = MarketStream(
        _Client(),  # type: ignore[arg-type]
        Events(sink, owner),
        access_token="t",
        connect=connect,
    )
    stream.want_quotes([265598 + i * 7 for i in range(CONIDS)])
    task = asyncio.create_task(stream.run())
    await done.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert sink.calls == len(frames), (sink.calls, len(frames))
    return spent() / len(frames)


async def _no_client() -> Any:
    raise AssertionError


# --- (b) over loopback against ibtui sim --------------------------------------------------


async def _setup(config_path: Path) -> tuple[Any, Any, list[int]]:
    from ibtui.adapters.broker import backend_from_settings
    from ibtui.config import load_settings

    backend = backend_from_settings(load_settings(config_path, require_credentials=True))
    client = await backend.client()
    accounts = await client.portfolio_accounts()
    positions = await client.positions(accounts[0].id)
    conids = [p.conid for p in positions][:CONIDS]
    return backend, client, conids


async def _socket_setup(config_path: Path) -> tuple[Any, str, dict[str, str], list[int]]:
    """The client, the stream's URL and headers (``Cookie``, ``User-Agent``), the conids."""
    from ibtui.ibkr.stream import STREAM_USER_AGENT, stream_url

    backend, client, conids = await _setup(config_path)
    tickle = await client.tickle()
    url = stream_url(client.base_url, backend._access.access_token)
    headers = {"Cookie": f"api={tickle.session}", "User-Agent": STREAM_USER_AGENT}
    return client, url, headers, conids


def _counting(
    receive: Callable[[], Awaitable[object]], count: list[int], kind: type = object
) -> Any:
    """A reader: ``receive`` in a loop, each ``kind`` received counted in ``count[0]``."""

    async def read() -> None:
        while True:
            if isinstance(await receive(), kind):
                count[0] += 1

    return read


async def _measured(
    read: Callable[[], Awaitable[None]],
    count: Callable[[], int],
    seconds: float,
    streamed: Callable[[], Sized] | None = None,
) -> float:
    """:func:`_measure` with ``read`` running in a task, once ``streamed`` (what is subscribed)
    holds 90% of the conids (or after a minute)."""
    task = asyncio.ensure_future(read())
    try:
        if streamed is not None:
            for _ in range(600):
                if len(streamed()) >= CONIDS * 0.9:
                    break
                await asyncio.sleep(0.1)
        return await _measure(count, seconds)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _measure(count: Callable[[], int], seconds: float) -> float:
    """CPU seconds per frame over ``seconds`` of wall time (from the next burst on)."""
    await asyncio.sleep(1.2)  # past the subscription's first answers
    frames0, cpu0, sys0 = count(), time.process_time(), _system()
    await asyncio.sleep(seconds)
    frames, cpu = count() - frames0, time.process_time() - cpu0
    SYSTEM_SHARE.append((_system() - sys0) / cpu if cpu else 0.0)
    return cpu / max(1, frames)


SYSTEM_SHARE: list[float] = []  # of each loopback run's CPU, the part spent in the kernel


def _system() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


async def _handshake(send: Any, recv: Any, conids: Sequence[int]) -> None:
    from ibtui.ibkr.models import QUOTE_FIELDS

    fields = json.dumps({"fields": list(QUOTE_FIELDS)}, separators=(",", ":"))
    greeted = set()
    while greeted != {"system", "sts"}:
        message = json.loads(await recv())
        if message.get("topic") in ("system", "sts"):
            greeted.add(message["topic"])
    for conid in conids:
        await send(f"smd+{conid}+{fields}")


async def loopback_raw(config_path: Path, seconds: float, level: str) -> float:
    """``level``: ``session`` (httpx-ws's receive alone) or ``socket`` (StreamSocket.receive)."""
    from ibtui.ibkr.stream import connect_httpx_ws

    client, url, headers, conids = await _socket_setup(config_path)
    count = [0]
    async with connect_httpx_ws(client.http)(url, headers) as socket:
        await _handshake(socket.send_text, socket.receive, conids)
        if level == "session":
            import wsproto.events

            read = _counting(socket._ws.receive, count, wsproto.events.TextMessage)
        else:
            read = _counting(socket.receive, count)
        return await _measured(read, lambda: count[0], seconds)


async def loopback_websockets(config_path: Path, seconds: float) -> float:
    from websockets.asyncio.client import connect

    _client, url, headers, conids = await _socket_setup(config_path)
    count = [0]
    async with connect(
        url,
        additional_headers={"Cookie": headers["Cookie"]},
        user_agent_header=headers["User-Agent"],
        max_size=4 * 2**20,
        ping_interval=None,
        compression=None,
    ) as ws:
        await _handshake(ws.send, ws.recv, conids)
        return await _measured(_counting(ws.recv, count), lambda: count[0], seconds)


async def loopback_console(config_path: Path, seconds: float) -> float:
    backend, _client, conids = await _setup(config_path)
    stream = backend.stream(CONIDS)
    stream.want_quotes(conids)
    sink = _Sink()
    return await _measured(lambda: stream.run(sink), lambda: sink.calls, seconds, stream.streamed)


def connect_websockets() -> Any:
    """A ``Connector`` over the ``websockets`` library (for this comparison only)."""
    from websockets.asyncio.client import connect as ws_connect

    from ibtui.ibkr.stream_socket import MAX_MESSAGE

    class Socket:
        def __init__(self, ws: Any) -> None:
            self.ws = ws

        async def send_text(self, text: str) -> None:
            await self.ws.send(text)

        async def receive(self) -> str | bytes:
            return await self.ws.recv()  # type: ignore[no-any-return]

    @contextlib.asynccontextmanager
    async def connect(url: str, headers: Mapping[str, str]) -> AsyncIterator[Any]:
        async with ws_connect(
            url,
            additional_headers={"Cookie": headers["Cookie"]},
            user_agent_header=headers["User-Agent"],
            max_size=MAX_MESSAGE,
            ping_interval=None,
            compression=None,
        ) as ws:
            yield Socket(ws)

    return connect


async def loopback_console_websockets(config_path: Path, seconds: float) -> float:
    """The console's path (MarketStream, the adapter) with ``websockets`` under it."""
    from ibtui.adapters.stream import ClientStream, _Events
    from ibtui.ibkr.stream import MarketStream

    backend, client, conids = await _setup(config_path)
    sink = _Sink()
    stream = MarketStream(
        client,
        _Events(sink, ClientStream(backend.client, lambda: None)),
        access_token=backend._access.access_token,
        connect=connect_websockets(),
    )
    stream.want_quotes(conids)
    return await _measured(stream.run, lambda: sink.calls, seconds, stream.streamed)


# --- the runs ------------------------------------------------------------------------------


def _us(values: list[float]) -> str:
    med = statistics.median(values) * 1e6
    return f"{med:7.1f} µs/frame  (runs: {', '.join(f'{v * 1e6:.1f}' for v in values)})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-sim", action="store_true", help="only the scripted socket")
    parser.add_argument("--seconds", type=float, default=8.0, help="loopback span per run")
    args = parser.parse_args(argv)
    from ibtui.tui.app import console_runtime

    frames = make_frames(10 if args.quick else 60)
    with console_runtime():
        ours = [asyncio.run(ours_once(frames)) for _ in range(args.runs)]
    print(f"ours (scripted socket → QuoteView), {len(frames)} frames: {_us(ours)}")
    if args.no_sim:
        return 0

    from benchmarks.common import stream_simulator
    from ibtui.sim.demo import trading_offset

    seconds = 3.0 if args.quick else args.seconds
    cases: dict[str, Callable[[Path], Any]] = {
        "httpx-ws session.receive": lambda p: loopback_raw(p, seconds, "session"),
        "httpx-ws StreamSocket.receive": lambda p: loopback_raw(p, seconds, "socket"),
        "console path (httpx-ws)": lambda p: loopback_console(p, seconds),
    }
    try:
        import websockets  # noqa: F401

        cases["websockets recv"] = lambda p: loopback_websockets(p, seconds)
        cases["console path (websockets)"] = lambda p: loopback_console_websockets(p, seconds)
    except ImportError:
        pass
    results: dict[str, list[float]] = {name: [] for name in cases}
    system: dict[str, list[float]] = {name: [] for name in cases}
    with stream_simulator(trading_offset(time.time())) as sim:
        for _ in range(args.runs):
            for name, case in cases.items():  # interleaved: the machine's load hits each alike
                results[name].append(asyncio.run(case(sim.config_path)))
                system[name].append(SYSTEM_SHARE.pop())
    for name, values in results.items():
        kernel = statistics.median(system[name])
        print(f"loopback, {name}: {_us(values)}; in the kernel: {kernel:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
