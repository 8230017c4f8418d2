"""``ibtui sim``: the simulated IBKR Web API on a loopback socket (:mod:`ibtui.sim.serve`).

Options and exit status only; binding, provisioning the consumer folder and serving are
:func:`ibtui.sim.serve.serve`'s.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence
from pathlib import Path

import platformdirs

from ibtui.sim.serve import ServeError, ServeOptions, serve

__all__ = ["main", "parse_args"]


def _default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir("ibtui")) / "sim"


def _loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{host!r} is not an IP address") from None
    if not address.is_loopback:
        raise argparse.ArgumentTypeError(
            f"{host} is not a loopback address: the simulator only listens on this machine "
            "(use 127.0.0.1 or ::1)"
        )
    return str(address)


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("the port must be between 0 and 65535")
    return port


def _positive(value: str) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return seconds


def _portfolio_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 0 <= size <= 5000:
        raise argparse.ArgumentTypeError("must be between 0 and 5000 positions")
    return size


def _faults(value: str) -> str:
    from ibtui.sim.faults import FaultSpecError, parse_faults

    try:
        parse_faults(value)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def parse_args(argv: Sequence[str]) -> ServeOptions:
    parser = argparse.ArgumentParser(
        prog="ibtui sim",
        description="Run the simulated IBKR Web API on a loopback socket and write a ready "
        "first-party OAuth consumer setup into the state folder.",
    )
    parser.add_argument(
        "--port", type=_port, default=0, metavar="N", help="TCP port (default 0: pick a free one)"
    )
    parser.add_argument(
        "--host", type=_loopback, default="127.0.0.1", help="loopback address (default 127.0.0.1)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=_default_state_dir(),
        metavar="DIR",
        help="folder for config.toml, keys and DH parameters, reused across runs "
        f"(default {_default_state_dir()})",
    )
    parser.add_argument(
        "--seed", type=int, default=1, metavar="N", help="market and order engine seed (default 1)"
    )
    parser.add_argument(
        "--lst-lifetime",
        type=_positive,
        default=86_400.0,
        metavar="SECONDS",
        help="live session token lifetime (default 86400)",
    )
    parser.add_argument(
        "--pacing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="enforce IBKR's rate limits (429 and penalty box)",
    )
    parser.add_argument(
        "--key-bits",
        type=int,
        choices=(1024, 2048, 3072, 4096),
        default=2048,
        help="size of newly generated RSA keys (default 2048, as IBKR requires)",
    )
    parser.add_argument(
        "--faults",
        type=_faults,
        default="",
        metavar="SPEC",
        help="misbehave like the real IBKR: comma-separated kinds with :name=value options, e.g. "
        "gone410,spurious401,emptydh,nobridge,placeholders,reset,trickle (or all); see README",
    )
    parser.add_argument(
        "--portfolio-size",
        type=_portfolio_size,
        default=None,
        metavar="N",
        help="positions each account holds, up to 5000 (generated filler stocks beyond the "
        "usual few; default: the hand-made portfolio)",
    )
    args = parser.parse_args(list(argv))
    return ServeOptions(
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        seed=args.seed,
        lst_lifetime=args.lst_lifetime,
        pacing=args.pacing,
        key_bits=args.key_bits,
        faults=args.faults,
        portfolio_size=args.portfolio_size,
    )


def main(argv: list[str]) -> int:
    """``ibtui sim [--port N] [--host H] [--state-dir DIR] [--seed N] [--lst-lifetime S]
    [--pacing/--no-pacing] [--key-bits N] [--faults SPEC] [--portfolio-size N]``; returns the
    exit status."""
    options = parse_args(argv)
    try:
        return serve(options)
    except ServeError as exc:
        print(f"ibtui sim: {exc}", file=sys.stderr)
        return 1
