"""The simulated IBKR Web API server (no Textual, no ibtui.ibkr.client).

Typical use::

    sim = Simulator(SimConfig(seed=7, clock=ManualClock(start)))
    sim.authenticator = some_authenticator        # the OAuth server, or a test double
    app = create_app(sim)                          # Starlette app serving /v1/api/...
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")
"""

from ibtui.sim.app import ConnectionDropped, create_app
from ibtui.sim.auth_api import AuthContext, Authenticator
from ibtui.sim.clock import Clock, ManualClock, ShiftedClock, SystemClock
from ibtui.sim.config import SimConfig
from ibtui.sim.faults import FaultRule, Faults
from ibtui.sim.simulator import Simulator
from ibtui.sim.starting import LIVE_ACCOUNT, PAPER_ACCOUNT

__all__ = [
    "LIVE_ACCOUNT",
    "PAPER_ACCOUNT",
    "AuthContext",
    "Authenticator",
    "Clock",
    "ConnectionDropped",
    "FaultRule",
    "Faults",
    "ManualClock",
    "ShiftedClock",
    "SimConfig",
    "Simulator",
    "SystemClock",
    "create_app",
]
