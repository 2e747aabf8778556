"""Rendering a page decision to a complete HTML document, and the side-by-side demo.

Everything a merchant typed (titles, coupon labels, product titles from the catalog,
links) is untrusted: autoescaping is on for every template, links and image sources go
through :func:`~app.rendering.blocks.is_safe_url`, and no merchant value is ever put
inside a ``<script>`` or ``<style>`` element. Templates come from ``assets/templates``
only and are compiled once, when the renderer is built.

One block that fails (bad params, a template that raises) never fails the page: it is
replaced by an empty placeholder and reported in :attr:`RenderResult.failed_slots`, so
the caller can record a ``Fallback(step="template", …)``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
)
from markupsafe import Markup

from app.core.decision import Fallback, PageDecision, SlotDecision
from app.rendering.blocks import (
    BLOCK_TEMPLATES,
    RENDER_ADDED_PARAMS,
    check_templates,
    is_safe_url,
    parse_params,
)

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "assets" / "templates"
PAGE_TEMPLATE = "page.html.j2"
DEMO_TEMPLATE = "demo.html.j2"
DEMO_FORM_KEYS = "abcdefgh"  # query parameter names of the demo's visitor selector


class RenderResult(NamedTuple):
    """A rendered page, and the slots whose block was replaced by a placeholder."""

    html: str
    failed_slots: tuple[tuple[str, str], ...]  # (slot_id, reason)

    def fallbacks(self) -> tuple[Fallback, ...]:
        """The failures as :class:`Fallback` entries for the decision's trace."""
        return tuple(Fallback(step="template", reason=f"slot {sid}: {why}", served="empty placeholder")
                     for sid, why in self.failed_slots)


class BlockRenderError(Exception):
    """One block could not be rendered; ``reason`` is a short sentence for the trace."""

    def __init__(self, slot_id: str, reason: str) -> None:
        super().__init__(f"slot {slot_id}: {reason}")
        self.slot_id = slot_id
        self.reason = reason


@dataclass(frozen=True)
class DemoPanel:
    """One visitor in the side-by-side demo."""

    visitor_id: str
    description: str  # who they are, e.g. "dormant customer, female member"
    crowds: Sequence[str]  # the crowds they matched
    html: str  # their complete storefront page (embedded with <iframe srcdoc>)
    label: str = ""  # e.g. "A"; defaults to the panel's letter


# ---------------------------------------------------------------------------------------
# filters


def _money(value: Any) -> str:
    """199 -> "199", 19.9 -> "19.90" (no thousands separator, as Chinese shops write prices)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(v):
        return ""
    cents = round(v * 100)
    if cents % 100 == 0:
        return f"{cents // 100}"
    return f"{cents / 100:.2f}"


def _safe_url(value: Any) -> str | None:
    return value if is_safe_url(value) else None


def _hue(value: Any) -> int:
    """A stable hue (0..359) for a category, for the placeholder tile's colour."""
    return zlib.crc32(str(value or "").encode("utf-8")) % 360


def _initial(value: Any) -> str:
    text = str(value or "").strip()
    return text[:1].upper() if text else "·"


def _paragraphs(value: Any) -> list[str]:
    """Each non-empty line of a plain text is one paragraph."""
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def _dt(value: datetime) -> str:
    """2025-06-18T23:59:00+08:00 -> "2025-06-18 23:59 UTC+08:00"."""
    off = value.strftime("%z")
    zone = f"UTC{off[:3]}:{off[3:]}" if off else ""
    return f"{value:%Y-%m-%d %H:%M} {zone}".strip()


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v >= 0 else None


def _price(p: Mapping[str, Any], key: str) -> float | None:
    """A price in currency units from ``key`` or ``key + "_cents"`` (integer cents)."""
    cents = _num(p.get(f"{key}_cents"))
    if cents is not None:
        return cents / 100
    return _num(p.get(key))


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _text(value: Any, limit: int = 200) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None


# ---------------------------------------------------------------------------------------
# the renderer


def build_environment(
    templates_dir: str | Path = DEFAULT_TEMPLATES_DIR, *, currency: str = "¥", lang: str = "zh-CN"
) -> Environment:
    """The Jinja environment of the storefront templates: autoescape on for every file,
    undefined names are errors, and the filters the templates use."""
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=True,  # everything, whatever the file name: merchant text is untrusted
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
    )
    env.filters.update(money=_money, safe_url=_safe_url, hue=_hue, initial=_initial, paragraphs=_paragraphs, dt=_dt)
    env.globals.update(currency=currency, lang=lang)
    return env


class PageRenderer:
    """Renders decisions with the templates of one templates folder (compiled once).

    The page and demo templates must compile (the constructor raises otherwise); a block
    template that is missing or does not compile only makes its blocks fail, and is listed
    in :attr:`problems` for the readiness probe.
    """

    def __init__(self, templates_dir: str | Path | None = None, *, currency: str = "¥", lang: str = "zh-CN") -> None:
        self.templates_dir = Path(templates_dir) if templates_dir is not None else DEFAULT_TEMPLATES_DIR
        self.env = build_environment(self.templates_dir, currency=currency, lang=lang)
        self._page: Template = self.env.get_template(PAGE_TEMPLATE)
        self._demo: Template = self.env.get_template(DEMO_TEMPLATE)
        self._blocks: dict[str, Template] = {}
        self._block_problems: dict[str, str] = {}
        for spec in BLOCK_TEMPLATES.values():
            try:
                self._blocks[spec.name] = self.env.get_template(spec.path)
            except TemplateNotFound:
                self._block_problems[spec.name] = f"template file {spec.path} is missing"
            except TemplateSyntaxError as exc:
                self._block_problems[spec.name] = (
                    f"template {spec.path} does not compile (line {exc.lineno}): {exc.message}"
                )
        self._problems = check_templates(self.env)

    @property
    def problems(self) -> list[str]:
        """What is wrong with the block templates (empty when all compile)."""
        return list(self._problems)

    # -- one block ------------------------------------------------------------------

    def _render_inner(
        self,
        slot: SlotDecision,
        products: Mapping[str, Mapping[str, Any]],
        decision: PageDecision | None,
        shop_name: str,
        preview: bool,
        now: datetime,
    ) -> Markup:
        template = self._blocks.get(slot.template)
        if template is None:
            problem = self._block_problems.get(slot.template)
            raise BlockRenderError(slot.slot_id, problem or f"unknown block template {slot.template!r}")
        # The render adds fields of its own (a banner's URLs) beside the merchant's params.
        model, errors = parse_params(slot.template, {k: v for k, v in slot.params.items() if k not in RENDER_ADDED_PARAMS})
        if model is None:
            first = errors[0]
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            raise BlockRenderError(slot.slot_id, f"invalid params: {first.path} {first.code}: {first.message}{more}")
        block = model.model_dump(mode="python")
        limit = block.get("count") if isinstance(block.get("count"), int) else None
        try:
            out = template.render(
                block=block,
                slot=slot,
                products=self._resolve(slot, products, limit),
                decision=decision,
                shop_name=shop_name,
                preview=preview,
                now=now,
            )
        except Exception as exc:
            raise BlockRenderError(slot.slot_id, f"template error: {type(exc).__name__}: {exc}"[:300]) from exc
        return Markup(out)

    @staticmethod
    def _resolve(
        slot: SlotDecision, products: Mapping[str, Mapping[str, Any]], limit: int | None
    ) -> list[dict[str, Any]]:
        """The slot's products as template-ready dicts, in decision order; unknown ids skipped."""
        out: list[dict[str, Any]] = []
        for sp in slot.products:
            p = products.get(sp.id)
            if p is None:
                continue
            title = _text(p.get("title")) or sp.id
            out.append(
                {
                    "id": sp.id,
                    "title": title,
                    "price": _price(p, "price"),
                    "original_price": _price(p, "original_price"),
                    "image": _safe_url(p.get("image")),
                    "url": _safe_url(p.get("url")),
                    "category": _text(p.get("category"), 64),
                    "score": float(sp.score),
                    "reason": sp.reason,
                }
            )
            if limit is not None and len(out) >= limit:
                break
        return out

    @staticmethod
    def _wrap(slot: SlotDecision, inner: Markup | None, reason: str | None, preview: bool) -> Markup:
        failed = inner is None
        attrs = Markup(
            ' class="blk blk--{tpl}{failed_cls}" data-slot="{slot}" data-block="{block}" data-crowd="{crowd}"'
            ' data-template="{tpl}"'
        ).format(
            tpl=slot.template,
            failed_cls=Markup(" blk--failed") if failed else "",
            slot=slot.slot_id,
            block=slot.block_id,
            crowd=slot.crowd or "",
        )
        if failed:
            attrs += Markup(' data-failed="1"')
        why = Markup("")
        if preview:
            text = f"{slot.slot_id} · {slot.block_id} · {slot.reason}"
            if failed:
                text += f" · FAILED: {reason}"
            why = Markup('<div class="blk-why">{}</div>').format(text)
        body = inner if inner is not None else Markup("")
        return Markup("<section{attrs}>{why}{body}</section>\n").format(attrs=attrs, why=why, body=body)

    def render_block(
        self,
        slot: SlotDecision,
        products: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        decision: PageDecision | None = None,
        shop_name: str = "",
        preview: bool = False,
        now: datetime | None = None,
        standalone: bool = False,
    ) -> str:
        """One block in its wrapper; ``standalone`` gives a full HTML document (with the CSS).

        Raises :class:`BlockRenderError` when the block cannot be rendered.
        """
        now = _aware(now)
        inner = self._render_inner(slot, products or {}, decision, shop_name, preview, now)
        html = self._wrap(slot, inner, None, preview)
        if standalone:
            return self._page.render(
                decision=decision,
                blocks=[html],
                shop_name=shop_name,
                preview=preview,
                crowds_matched=[],
                fallbacks=[],
                standalone_block=True,
            )
        return str(html)

    # -- a page ---------------------------------------------------------------------

    def render_page(
        self,
        decision: PageDecision,
        products: Mapping[str, Mapping[str, Any]],
        *,
        shop_name: str,
        preview: bool = False,
        now: datetime | None = None,
    ) -> RenderResult:
        """The complete HTML5 document of a decision; failing blocks become placeholders.

        Only an error of ``page.html.j2`` itself propagates (a deployment bug, for the
        caller's page-level fallback); block failures are in ``failed_slots``.
        """
        now = _aware(now)
        blocks: list[Markup] = []
        failed: list[tuple[str, str]] = []
        for slot in decision.slots:
            try:
                inner = self._render_inner(slot, products, decision, shop_name, preview, now)
            except BlockRenderError as exc:
                failed.append((slot.slot_id, exc.reason))
                blocks.append(self._wrap(slot, None, exc.reason, preview))
            else:
                blocks.append(self._wrap(slot, inner, None, preview))
        fallbacks = [f"{f.step}: {f.served}" for f in decision.fallbacks]
        fallbacks += [f"template: slot {sid} placeholder" for sid, _ in failed]
        html = self._page.render(
            decision=decision,
            blocks=blocks,
            shop_name=shop_name,
            preview=preview,
            crowds_matched=[c.id for c in decision.crowds if c.matched],
            fallbacks=fallbacks,
            standalone_block=False,
        )
        return RenderResult(html=html, failed_slots=tuple(failed))

    # -- the public demo ------------------------------------------------------------

    def render_demo(
        self,
        shop_name: str,
        panels: Sequence[DemoPanel],
        *,
        sample_visitors: Sequence[str | tuple[str, str]] = (),
        title: str | None = None,
    ) -> str:
        """Two (or more) visitors' pages side by side, with a GET form (``?a=…&b=…``).

        ``sample_visitors`` are offered in the form, as ids or ``(id, description)`` pairs.
        """
        samples = [(s, "") if isinstance(s, str) else (str(s[0]), str(s[1])) for s in sample_visitors]
        shown = list(panels)[: len(DEMO_FORM_KEYS)]
        views = [
            {
                "key": DEMO_FORM_KEYS[i],
                "label": p.label or DEMO_FORM_KEYS[i].upper(),
                "visitor_id": p.visitor_id,
                "description": p.description,
                "crowds": list(p.crowds),
                "html": str(p.html),  # a plain str, so that Jinja escapes it for srcdoc
            }
            for i, p in enumerate(shown)
        ]
        fields = [
            {"key": DEMO_FORM_KEYS[i], "value": views[i]["visitor_id"] if i < len(views) else ""}
            for i in range(max(2, len(views)))
        ]
        return self._demo.render(
            shop_name=shop_name, title=title, panels=views, fields=fields, samples=samples
        )
