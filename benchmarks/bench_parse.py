"""Benchmark 8: the client's CPU per snapshot answer of 100 quotes, from the JSON bytes to the
console's ``QuoteView``s.

The answers are the simulator's own (``ibtui.sim``'s snapshot values for 100 held positions of a
generated portfolio, with every field ibtui asks for, at a different second for each answer, so
prices move between answers as between polls), encoded as the simulator encodes them. A round
takes one answer through what the console does with it: ``decode_body`` (``json.loads``),
``parse_snapshot`` (the client's models) and, as the broker adapter does, a ``quote_view`` for
each quote that is not a warm-up row. Each round is timed with ``time.process_time``; the
pieces (decoding, rows to Quotes, Quotes to QuoteViews) are timed in rounds of their own.

Beside it, in alternating rounds on the same answers, the *reference*: each row read field by
field through the public readers (``reference_quote``: ``parse_price``, ``parse_volume``,
``parse_percent``, ``to_decimal``, each field's failure caught and logged once), and each
``QuoteView`` made by its class, as the client read rows before its fast path (the same Quotes:
a property test holds the two to it). Three kinds of answer: a live market; a closed one (every
last price ``C``-prefixed, availability ``Z``); and a live one where one value in ten is one of
IBKR's placeholders (``"Undefined"``, ``"."``, ``"-"``, ``""``, by the simulator's own
placeholder fault), each already logged by the warm-up rounds, as they would be after the
first poll.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import Result, Stat, base_parser, fmt, write_timed

TARGET_MS = 2.0
QUOTES = 100
OPEN = datetime(2024, 11, 4, 15, 0, tzinfo=UTC).timestamp()  # a Monday, 10:00 in New York
CLOSED = datetime(2024, 11, 4, 23, 0, tzinfo=UTC).timestamp()  # 18:00, after the close


def answers(count: int, *, closed: bool = False, placeholders: float = 0.0) -> list[bytes]:
    """``count`` snapshot answers for 100 held conids, as the simulator's route builds them."""
    from ibtui.ibkr.models import QUOTE_FIELDS
    from ibtui.sim import SimConfig, Simulator
    from ibtui.sim.starting import PAPER_ACCOUNT
    from ibtui.sim.views_market import snapshot_values

    sim = Simulator(SimConfig(portfolio_size=QUOTES, pacing_enabled=False))
    if placeholders:
        sim.faults.misbehave("placeholders", rate=placeholders)
    conids = list(sim.broker.accounts[PAPER_ACCOUNT].positions)[:QUOTES]
    wanted = sorted({*QUOTE_FIELDS, "6509", "6119"}, key=lambda f: (len(f), f))
    bodies = []
    for index in range(count):
        now = (CLOSED if closed else OPEN) + index
        rows: list[dict[str, Any]] = []
        for number, conid in enumerate(conids):
            inst = sim.universe.get(conid)
            assert inst is not None
            live = sim.market.venue(inst).in_rth(now)
            held = sim.broker.position_value(PAPER_ACCOUNT, conid, now)
            values = snapshot_values(
                inst,
                sim.market.quote(conid, now),
                ("R" if live else "Z") + "pB",
                f"q{number}",
                held,
            )
            row: dict[str, Any] = {
                "conid": conid,
                "conidEx": str(conid),
                "_updated": int(now * 1000),
                "server_id": f"q{number}",
            }
            row.update((f, values[f]) for f in wanted if f in values)
            rows.append(row)
        sim.faults.placeholders(rows)
        bodies.append(json.dumps(rows, separators=(",", ":")).encode())
    return bodies


def pipelines() -> dict[str, Callable[[bytes], list[Any]]]:
    """The console's way (fast) and the reference way, bytes to QuoteViews."""
    from ibtui.ibkr.models import decode_body, parse_snapshot
    from ibtui.ibkr.models._parse import as_list
    from ibtui.ibkr.models.market import Quote, reference_quote
    from ibtui.tui.convert import quote_view
    from ibtui.tui.viewmodels import QuoteView

    endpoint = "/iserver/marketdata/snapshot"

    def fast(body: bytes) -> list[Any]:
        quotes = parse_snapshot(decode_body(body, endpoint))
        received = time.time()
        return [quote_view(q, received) for q in quotes if not q.is_warmup]

    def reference_view(quote: Quote, received_at: float) -> QuoteView:
        return QuoteView(
            conid=quote.conid,
            last=quote.last,
            change=quote.change,
            change_pct=quote.change_pct,
            updated_at=received_at,
            is_close=quote.is_close,
            halted=quote.halted,
            bid=quote.bid,
            ask=quote.ask,
            volume=quote.volume,
            traded_at=quote.updated.timestamp() if quote.updated is not None else None,
            daily_pnl=quote.daily_pnl,
        )

    def reference(body: bytes) -> list[Any]:
        rows = as_list(decode_body(body, endpoint), "snapshot")
        quotes = tuple(reference_quote(row) for row in rows)
        received = time.time()
        return [reference_view(q, received) for q in quotes if not q.is_warmup]

    return {"fast": fast, "reference": reference}


def pieces(body: bytes) -> tuple[float, float, float]:
    """Process time of decoding, rows → Quotes and Quotes → QuoteViews, for one answer."""
    from ibtui.ibkr.models import decode_body, parse_snapshot
    from ibtui.tui.convert import quote_view

    t0 = time.process_time()
    data = decode_body(body, "/iserver/marketdata/snapshot")
    t1 = time.process_time()
    quotes = parse_snapshot(data)
    t2 = time.process_time()
    [quote_view(q, 0.0) for q in quotes if not q.is_warmup]
    t3 = time.process_time()
    return t1 - t0, t2 - t1, t3 - t2


def timed(bodies: Sequence[bytes], rounds: int) -> dict[str, list[float]]:
    """``rounds`` of each pipeline over the answers, alternating which goes first."""
    ways = pipelines()
    for body in bodies:  # warm-up (placeholders logged once), and the same QuoteViews both ways
        fast, reference = (
            [replace(v, updated_at=None) for v in way(body)] for way in ways.values()
        )
        if repr(fast) != repr(reference):
            raise AssertionError("the fast path and the reference read an answer differently")
    out: dict[str, list[float]] = {name: [] for name in ways}
    order = list(ways)
    gc.collect()
    for index in range(rounds):
        body = bodies[index % len(bodies)]
        for name in order if index % 2 == 0 else reversed(order):
            start = time.process_time()
            ways[name](body)
            out[name].append(time.process_time() - start)
    return out


def measure(rounds: int, count: int) -> list[Result]:
    logging.getLogger("ibtui.ibkr.models.market").setLevel(logging.ERROR)  # logged, not printed
    kinds = {
        "live market": answers(count),
        "closed market (C-prefixed last prices)": answers(count, closed=True),
        "live, one value in ten a placeholder": answers(count, placeholders=0.1),
    }
    stats: list[Stat] = []
    medians: dict[tuple[str, str], float] = {}
    for kind, bodies in kinds.items():
        times = timed(bodies, rounds)
        for name, label in (("fast", "ibtui"), ("reference", "reference")):
            stat = Stat.of(f"{label}, {kind}: bytes → QuoteViews", "ms", times[name], 1e3)
            medians[(name, kind)] = stat.median
            stats.append(stat)
    live = kinds["live market"]
    split = [pieces(live[i % len(live)]) for i in range(rounds)]
    stats += [
        Stat.of("  of which JSON decoding (live)", "ms", [s[0] for s in split], 1e3),
        Stat.of("  of which rows → Quotes (live)", "ms", [s[1] for s in split], 1e3),
        Stat.of("  of which Quotes → QuoteViews (live)", "ms", [s[2] for s in split], 1e3),
    ]
    worst = max(medians[("fast", kind)] for kind in kinds)
    fast, reference = medians[("fast", "live market")], medians[("reference", "live market")]
    size = sum(len(b) for b in live) / len(live)
    return [
        Result(
            id="8",
            title="Client CPU per 100-quote snapshot answer, JSON bytes to QuoteViews",
            target=f"median ≤ {TARGET_MS:g} ms per answer (live, closed and placeholder answers)",
            met=worst <= TARGET_MS,
            headline=(
                f"{fmt(fast)} ms per answer ({fmt(fast * 1e3 / QUOTES)} µs a quote) vs "
                f"{fmt(reference)} ms read field by field through the reference readers: "
                f"{reference / fast:.1f}× less; closed market "
                f"{fmt(medians[('fast', 'closed market (C-prefixed last prices)')])} ms, "
                "one value in ten a placeholder "
                f"{fmt(medians[('fast', 'live, one value in ten a placeholder')])} ms"
            ),
            stats=stats,
            method=(
                f"{rounds} rounds per kind of answer and way, over {count} distinct answers of "
                f"{QUOTES} quotes each ({size / 1024:.0f} KiB of JSON on average). "
                + (__doc__ or "").split("\n\n", 1)[1].strip()
            ),
        )
    ]


def main(argv: list[str]) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--rounds", type=int, help="rounds per kind and way (default 1000, 200)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (200 if args.quick else 1000)
    return write_timed(args.json, lambda: measure(rounds, count=6 if args.quick else 20))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
