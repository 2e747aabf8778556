"""The flat attribute map crowd rules are evaluated on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.derived import DerivedSettings, derive
from app.core.profile import Behaviour, Context


def visitor_attributes(
    known: Mapping[str, Any],
    behaviour: Behaviour,
    context: Context,
    settings: DerivedSettings,
    *,
    spend_rank_pct: float | None = None,
) -> dict[str, Any]:
    """Context extras, then the merchant's known attributes, then derived ones.

    Later layers win on a name clash: what the service computes from facts (for example
    ``is_fan`` from a follow event) is never overridden by a stale CRM field, and a
    storefront's free-form context cannot pose as a CRM attribute.
    """
    derived = derive(known, behaviour, context, settings, spend_rank_pct=spend_rank_pct)
    return {**context.extra, **known, **derived}
