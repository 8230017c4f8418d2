"""The simulator object: configuration, clock, market, broker, sessions, pacing, faults, and the
authenticator the HTTP app asks about every request."""

from __future__ import annotations

from ibtui.sim.auth_api import Authenticator
from ibtui.sim.broker import Broker
from ibtui.sim.clock import Clock
from ibtui.sim.config import SimConfig
from ibtui.sim.faults import Faults
from ibtui.sim.market import Market
from ibtui.sim.pacing import Pacer
from ibtui.sim.sessions import Sessions
from ibtui.sim.starting import PAPER_ACCOUNT
from ibtui.sim.universe import Universe

__all__ = ["Simulator"]


class Simulator:
    """Holds all simulator state. ``create_app(sim)`` serves it over HTTP.

    The authenticator (the OAuth server, or a test double) may be given here or set later via
    :attr:`authenticator`, e.g. ``sim.authenticator = OAuthServer(clock=sim.clock, ...)``.
    """

    def __init__(
        self, config: SimConfig | None = None, *, authenticator: Authenticator | None = None
    ) -> None:
        self.config = config if config is not None else SimConfig()
        self.clock: Clock = self.config.clock
        self.universe = Universe(self.config.seed)
        self.market = Market(self.universe, self.config.seed)
        self.broker = Broker(self.config, self.market, self.clock.now())
        self.sessions = Sessions(self.config.seed, PAPER_ACCOUNT, self.config.session_idle_timeout)
        self.pacing = Pacer(self.config, self.clock)
        self.faults = Faults(
            self.config.seed,
            expire_lsts=self._expire_lsts,
            competing_login=self.sessions.competing_login,
            nightly_reset=self.sessions.nightly_reset,
        )
        self._authenticator = authenticator
        self._server_seq = 20477

    @property
    def authenticator(self) -> Authenticator:
        if self._authenticator is None:
            raise RuntimeError("the simulator has no authenticator: set sim.authenticator first")
        return self._authenticator

    @authenticator.setter
    def authenticator(self, value: Authenticator) -> None:
        self._authenticator = value

    def now(self) -> float:
        return self.clock.now()

    def advance(self) -> float:
        """Bring the order book up to the clock; returns the time used."""
        now = self.clock.now()
        self.broker.advance(now)
        return now

    def next_server_id(self) -> str:
        self._server_seq += 1
        return str(self._server_seq)

    def _expire_lsts(self) -> None:
        self.authenticator.expire_all_lsts()
        # A new LST means a new brokerage session (API.md §11.5).
        self.sessions.kill_brokerage()
