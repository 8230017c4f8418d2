"""What the trader sets for orders: precaution limits checked before an order is sent, and the
answers to IBKR's questions. Built by :mod:`ibtui.config` from the ``[orders]`` settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = ["OrderSettings", "PrecautionAction", "QuestionPolicy"]

PrecautionAction = Literal["warn", "block"]
QuestionPolicy = Literal["ask", "confirm", "reject"]


@dataclass(frozen=True)
class OrderSettings:
    """Precaution limits (checked before an order is sent) and answers to IBKR's questions."""

    max_order_value: float = 50000.0
    max_quantity: float = 10000.0
    max_price_deviation_pct: float = 5.0
    precaution_action: PrecautionAction = "warn"
    questions: Mapping[str, QuestionPolicy] = field(default_factory=lambda: MappingProxyType({}))
