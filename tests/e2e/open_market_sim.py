"""``ibtui sim`` with the demo's clock: the simulated market is open whatever the time of day.

``python -m tests.e2e.open_market_sim [ibtui sim's options]`` serves the full simulator as
``ibtui sim`` does (same options, same state folder, same faults), but its market runs on
:func:`~ibtui.sim.demo.trading_offset`'s shifted clock, as ``ibtui demo``'s does: prices move at
night and at weekends too, so a test can see them change.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from starlette.types import ASGIApp

from ibtui.cli.sim import parse_args
from ibtui.sim.oauth_server import OAuthServer
from ibtui.sim.serve import ServeOptions, serve

# How sim_process runs it (``python -c CODE ARGS``, from the repository's root).
CODE = "import sys; from tests.e2e.open_market_sim import main; sys.exit(main(sys.argv[1:]))"


def open_market_app(oauth: OAuthServer, options: ServeOptions) -> ASGIApp:
    from ibtui.sim import ShiftedClock, SimConfig, Simulator, SystemClock
    from ibtui.sim.app import create_app
    from ibtui.sim.demo import trading_offset

    config = SimConfig(
        seed=options.seed,
        pacing_enabled=options.pacing,
        lst_lifetime_seconds=options.lst_lifetime,
        clock=ShiftedClock(SystemClock(), trading_offset(time.time())),
    )
    sim = Simulator(config, authenticator=oauth)
    if options.faults:
        sim.faults.add_spec(options.faults)
    return create_app(sim)


def main(argv: Sequence[str]) -> int:
    return serve(parse_args(argv), open_market_app)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
