"""The settings, typed: what ``[ibkr]``, ``[ui]``, ``[keymap]``, ``[orders]``, ``[stream]`` and
``[paths]`` say once :mod:`ibtui.config.loader` has read and checked them (``[orders]`` is the
trading core's :class:`~ibtui.trading.settings.OrderSettings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ibtui.ibkr.oauth import realm_for
from ibtui.trading.settings import OrderSettings

__all__ = [
    "DEFAULT_BASE_URL",
    "TOKEN_FILE_NAME",
    "AlertsSettings",
    "IbkrSettings",
    "Settings",
    "StreamSettings",
    "UiSettings",
]

DEFAULT_BASE_URL = "https://api.ibkr.com/v1/api/"
TOKEN_FILE_NAME = "tokens.json"  # noqa: S105 (a file name, not a password)


def _masked(value: str | None) -> str:
    return "None" if value is None else "'***'"


@dataclass(frozen=True, repr=False, slots=True)
class IbkrSettings:
    """What ``[ibkr]`` says; paths are absolute; ``realm`` is derived when left empty. The repr
    masks the access token and its secret; slots keep them out of ``vars()``."""

    base_url: str = DEFAULT_BASE_URL
    consumer_key: str | None = None
    realm: str = ""
    signature_key: Path | None = None
    encryption_key: Path | None = None
    dh_params: Path | None = None
    access_token: str | None = None
    access_token_secret: str | None = None

    def __post_init__(self) -> None:
        if not self.realm:
            object.__setattr__(self, "realm", realm_for(self.consumer_key or ""))

    @property
    def first_party(self) -> bool:
        """True when the config carries the access token and secret (no login needed)."""
        return self.access_token is not None and self.access_token_secret is not None

    def __repr__(self) -> str:
        return (
            f"IbkrSettings(base_url={self.base_url!r}, consumer_key={self.consumer_key!r}, "
            f"realm={self.realm!r}, signature_key={self.signature_key!r}, "
            f"encryption_key={self.encryption_key!r}, dh_params={self.dh_params!r}, "
            f"access_token={_masked(self.access_token)}, "
            f"access_token_secret={_masked(self.access_token_secret)})"
        )


@dataclass(frozen=True)
class UiSettings:
    poll_interval: float = 2.0
    theme: str = "textual-dark"
    bell: bool = True
    idle_lock_minutes: int = 0  # 0 = never lock
    # a margin cushion (excess liquidity / net liquidation) below it is shown in the warning
    # colour; 0 = never
    margin_warning: float = 0.10


@dataclass(frozen=True)
class StreamSettings:
    """``[stream]``: prices and orders pushed over IBKR's WebSocket (the rest is polled)."""

    enabled: bool = True
    line_allowance: int = 100  # IBKR's market-data lines: at most this many conids streamed
    # with the stream live, the rows neither streamed, in view nor watched are all polled once
    # in this many seconds (0: as fast as IBKR's pace allows, as without a stream)
    background_poll_seconds: int = 10


@dataclass(frozen=True)
class AlertsSettings:
    desktop: str = "osc9"  # a desktop notification per firing: osc9, osc777, both or off
    rearm_pct: float = 0.1  # a fired alert re-arms past its level by this % of it


@dataclass(frozen=True)
class Settings:
    config_path: Path  # the file consulted (it may not exist: see config_found)
    state_dir: Path
    config_found: bool = False
    ibkr: IbkrSettings = field(default_factory=IbkrSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    orders: OrderSettings = field(default_factory=OrderSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    keymap: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def token_file(self) -> Path:
        """Where a third-party login stores the access token and its encrypted secret."""
        return self.state_dir / TOKEN_FILE_NAME
