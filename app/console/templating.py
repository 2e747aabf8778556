"""The console's Jinja environment and the headers every console page answers with.

Templates live in ``assets/templates/console/`` and are autoescaped: crowd names, rule
text and block titles are the merchant's, and shown as text. Charts are inline SVG made
in Python (``app.console.charts``), marked safe there after escaping their labels.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

# Console pages load scripts and styles from /console/static only; no inline script may
# run. Frames: the page preview (same origin, itself sandboxed). Nobody frames us.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",  # pages show one shop's data: never kept by a shared cache
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def pct(value: Any, digits: int = 1) -> str:
    v = _finite(value)
    return "—" if v is None else f"{v * 100:.{digits}f}%"


def num(value: Any) -> str:
    v = _finite(value)
    if v is None:
        return "—"
    return f"{v:,.0f}" if v == int(v) else f"{v:,.2f}"


def money(value: Any) -> str:
    v = _finite(value)
    return "—" if v is None else f"¥{v:,.2f}"


def when(ts: Any, tz: str = "Asia/Shanghai") -> str:
    v = _finite(ts)
    if v is None:
        return "—"
    return datetime.fromtimestamp(v, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def build_environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(pct=pct, num=num, money=money, when=when, pretty=pretty, compact=compact)
    return env


def language_urls(path: str, query: dict[str, str], languages: tuple[str, ...]) -> dict[str, str]:
    """This page in each language (``?lang=`` replaced, the rest of the query kept)."""
    return {code: f"{path}?{urlencode({**{k: v for k, v in query.items() if k != 'lang'}, 'lang': code})}" for code in languages}
