"""A shop's rights settings: personalization on or off, the exploration share, the margin.

    PUT /v1/shops/{shop}/settings  {"rights": {"personalized": true, "exploration": 0.05, "margin_rate": 0.35}}

``margin_rate`` is the shop's gross margin on revenue before a right's own cost: what
an incremental yuan of revenue is worth, so that a right is granted only where the
margin it brings pays for what it costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RightsSettings:
    personalized: bool = True
    exploration: float = 0.05  # the share of decisions drawn at random, with the propensity logged
    margin_rate: float = 0.35

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RightsSettings:
        return cls(bool(data.get("personalized", True)), float(data.get("exploration", 0.05)), float(data.get("margin_rate", 0.35)))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
