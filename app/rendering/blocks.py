"""The storefront block templates: one Jinja2 file and one parameter schema each.

A merchant configures a page slot as ``{"template": "product_grid", "params": {...}}``.
:func:`validate_params` checks the params against the template's pydantic model and
answers with the normalized params (defaults filled in) or with errors that carry the
JSON path of the offending field (``$.params.pool.categories[2]``), a machine-readable
code and a sentence a merchant understands.

Money in block params (``min_spend``, ``amount`` of a coupon) is in the shop's currency
units (yuan), like ``Product.price``; at most two decimals.

The template files live in ``assets/templates/blocks/<name>.html.j2``. Every template
receives ``block`` (the normalized params), ``slot`` (the :class:`SlotDecision`),
``products`` (resolved product dicts in decision order), ``decision`` (the
:class:`PageDecision`, or ``None`` for a block previewed on its own), ``preview``,
``now`` and ``shop_name``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from app.core.problems import FIELD_ERRORS, Problem, field_error
from app.core.problems import json_path as problem_path

BLOCKS_SUBDIR = "blocks"
# What a render adds to a hero block's params for its template (app/serving/render.py).
RENDER_ADDED_PARAMS = frozenset({"banner_url", "banner_urls", "banner_crowd"})
TEMPLATE_SUFFIX = ".html.j2"

# ---------------------------------------------------------------------------------------
# errors


ParamError = Problem  # one problem with a block's params: where (JSON path), what, why


def json_path(loc: tuple[Any, ...] | list[Any], root: str = "$.params") -> str:
    """``("pool", "categories", 2)`` -> ``$.params.pool.categories[2]`` (app.core.problems)."""
    return problem_path(loc, root)


# Block params say which fields there are, and need a timezone on every date.
_FIELD_ERRORS: dict[str, tuple[str, str]] = {
    **FIELD_ERRORS,
    "extra_forbidden": ("unknown_field", "Unknown field {field!r}; allowed fields: {allowed}."),
    "timezone_aware": (
        "invalid_datetime",
        "The date and time needs a timezone, e.g. 2025-06-18T23:59:59+08:00.",
    ),
}


def _pydantic_errors(exc: ValidationError, model: type[BaseModel]) -> list[ParamError]:
    out: list[ParamError] = []
    for e in exc.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if p != "[key]")
        etype = e["type"]
        ctx = dict(e.get("ctx") or {})
        if etype == "extra_forbidden":
            ctx["allowed"] = ", ".join(_allowed_fields(model, loc[:-1])) or "none"
        if etype.startswith(("datetime_", "date_", "time_")):
            code, msg = (
                "invalid_datetime",
                "Must be an ISO 8601 date and time with a timezone, e.g. 2025-06-18T23:59:59+08:00.",
            )
        elif (known := field_error(etype, loc[-1] if loc else "", ctx, e["msg"], _FIELD_ERRORS)) is not None:
            code, msg = known
        elif etype == "value_error":
            code, msg = "invalid_value", str(ctx.get("error") or e["msg"]).removeprefix("Value error, ")
        else:  # our own PydanticCustomError codes (invalid_url, …) and anything unforeseen
            code, msg = etype, e["msg"]
        out.append(ParamError(json_path(loc), code, msg))
    return out


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model at ``loc``, for an 'unknown field' message."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = _inner_model(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------------------------------
# reusable field types


def _check_url(value: str) -> str:
    """An absolute http(s) URL or a path on the shop's own site ("/…"); nothing else."""
    if any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in value):
        raise PydanticCustomError("invalid_url", "A link may not contain spaces, backslashes or control characters.")
    if value.startswith("/"):
        if value.startswith("//"):
            raise PydanticCustomError(
                "invalid_url", "Write the full address with https:// instead of starting with //."
            )
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        raise PydanticCustomError("invalid_url", "This is not a valid web address.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise PydanticCustomError(
            "invalid_url",
            "Use an https:// (or http://) address or a path on your shop starting with /.",
        )
    if not parts.netloc:
        raise PydanticCustomError("invalid_url", "The address has no host name, e.g. https://shop.example.com/sale.")
    return value


def is_safe_url(value: Any) -> bool:
    """True when ``value`` may go into an ``href``/``src`` (used by the renderer, too)."""
    if not isinstance(value, str) or not value or len(value) > 2048:
        return False
    try:
        _check_url(value)
    except PydanticCustomError:
        return False
    return True


Url = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_check_url)]
Title = Annotated[str, Field(min_length=1, max_length=60)]
ShortText = Annotated[str, Field(min_length=1, max_length=160)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
ProductId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s\x00-\x1f\x7f]+$")]


def _two_decimals(value: float) -> float:
    if abs(round(value * 100) - value * 100) > 1e-6:
        raise PydanticCustomError("invalid_value", "Money allows at most two decimals, e.g. 19.90.")
    return round(value, 2)


Money = Annotated[float, Field(ge=0, le=10_000_000, allow_inf_nan=False), AfterValidator(_two_decimals)]
PositiveMoney = Annotated[float, Field(gt=0, le=10_000_000, allow_inf_nan=False), AfterValidator(_two_decimals)]


def _check_boost_key(key: str) -> str:
    for prefix in ("category:", "tag:"):
        if key.startswith(prefix) and not key[len(prefix) :].strip():
            raise PydanticCustomError(
                "invalid_boost_key",
                f"'{prefix}' needs a name after it, e.g. '{prefix}shoes'.",
            )
    return key


BoostKey = Annotated[
    str,
    Field(min_length=1, max_length=80, pattern=r"^[^\s\x00-\x1f\x7f]+$"),
    AfterValidator(_check_boost_key),
]
BoostFactor = Annotated[float, Field(ge=0.1, le=10, allow_inf_nan=False)]


def _require_iso_string(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "invalid_datetime",
            "Must be an ISO 8601 date and time with a timezone, e.g. 2025-06-18T23:59:59+08:00.",
        )
    return value


IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_require_iso_string)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    def cross_errors(self) -> list[ParamError]:
        """Rules across fields, checked after the fields themselves are valid."""
        return []


# ---------------------------------------------------------------------------------------
# the templates' params


class HeroBannerParams(_Params):
    title: Title
    subtitle: ShortText | None = None
    image_url: Url | None = None
    link: Url | None = None
    cta: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    theme: Literal["light", "dark", "festive"] = "light"
    # a banner template (PUT /banners/{id}): each visitor sees their crowd's picture of it
    banner: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] | None = None

    def cross_errors(self) -> list[ParamError]:
        if self.cta and not self.link:
            return [ParamError("$.params.cta", "requires_link", "A button text needs a link to go to; add 'link'.")]
        return []


class ProductPool(_Params):
    categories: Annotated[list[Name], Field(max_length=50)] = []
    tags: Annotated[list[Name], Field(max_length=50)] = []


class ProductGridParams(_Params):
    title: Title
    count: Annotated[int, Field(ge=1, le=60)] = 8
    columns: Annotated[int, Field(ge=2, le=6)] = 4
    pool: ProductPool = ProductPool()
    pin: Annotated[list[ProductId], Field(max_length=60)] = []
    boost: Annotated[dict[BoostKey, BoostFactor], Field(max_length=100)] = {}
    exclude: Annotated[list[ProductId], Field(max_length=500)] = []
    max_per_category: Annotated[int, Field(ge=1, le=60)] | None = None
    show_price: bool = True

    def cross_errors(self) -> list[ParamError]:
        errs: list[ParamError] = []
        seen: set[str] = set()
        for i, pid in enumerate(self.pin):
            if pid in seen:
                errs.append(ParamError(f"$.params.pin[{i}]", "duplicate", f"Product {pid!r} is pinned twice."))
            seen.add(pid)
        if len(self.pin) > self.count:
            errs.append(
                ParamError(
                    "$.params.pin",
                    "too_many",
                    f"{len(self.pin)} products are pinned but the grid shows only {self.count}; "
                    "raise 'count' or pin fewer.",
                )
            )
        pinned = set(self.pin)
        for i, pid in enumerate(self.exclude):
            if pid in pinned:
                errs.append(
                    ParamError(
                        f"$.params.exclude[{i}]",
                        "conflict",
                        f"Product {pid!r} is both pinned and excluded; keep it in one list only.",
                    )
                )
        return errs


class Coupon(_Params):
    label: Annotated[str, Field(min_length=1, max_length=40)]
    description: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    code: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    min_spend: Money | None = None
    amount: PositiveMoney | None = None
    right: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] | None = None  # a discount right granted to this visitor (the render puts it first)


class CouponStripParams(_Params):
    title: Title
    coupons: Annotated[list[Coupon], Field(min_length=1, max_length=10)]


class TextParams(_Params):
    title: Title | None = None
    body: Annotated[str, Field(min_length=1, max_length=5000)]
    align: Literal["left", "center"] = "left"


class CountdownParams(_Params):
    title: Title
    ends_at: IsoDatetime
    expired_text: Annotated[str, Field(min_length=1, max_length=60)] = "活动已结束"


# ---------------------------------------------------------------------------------------
# the registry


@dataclass(frozen=True)
class BlockTemplate:
    name: str
    file: str  # file name inside assets/templates/blocks/
    params_model: type[_Params]
    description: str

    @property
    def path(self) -> str:
        """The template's name for the Jinja loader (relative to assets/templates)."""
        return f"{BLOCKS_SUBDIR}/{self.file}"

    def json_schema(self) -> dict[str, Any]:
        """The params' JSON schema (for the console's block editor)."""
        return self.params_model.model_json_schema()


def _tpl(name: str, model: type[_Params], description: str) -> BlockTemplate:
    return BlockTemplate(name=name, file=f"{name}{TEMPLATE_SUFFIX}", params_model=model, description=description)


BLOCK_TEMPLATES: Mapping[str, BlockTemplate] = MappingProxyType(
    {
        t.name: t
        for t in (
            _tpl("hero_banner", HeroBannerParams, "A large banner with title, optional image, link and button."),
            _tpl(
                "product_grid",
                ProductGridParams,
                "A grid of products drawn from a pool, ranked for the visitor, with pin/boost/exclude rules.",
            ),
            _tpl("coupon_strip", CouponStripParams, "A row of 1 to 10 coupons (label, threshold, amount, code)."),
            _tpl("text", TextParams, "A text block; each line of the body becomes a paragraph."),
            _tpl("countdown", CountdownParams, "A countdown to an end time; shows a text once it is over."),
        )
    }
)


def template_names() -> list[str]:
    return list(BLOCK_TEMPLATES)


def parse_params(template: str, params: Any) -> tuple[_Params | None, list[ParamError]]:
    """The validated params model of ``template``, or None and the errors."""
    spec = BLOCK_TEMPLATES.get(template) if isinstance(template, str) else None
    if spec is None:
        return None, [
            ParamError(
                "$.template",
                "unknown_template",
                f"Unknown block template {template!r}; available: {', '.join(BLOCK_TEMPLATES)}.",
            )
        ]
    if not isinstance(params, Mapping):
        return None, [ParamError("$.params", "invalid_type", "The params must be an object.")]
    try:
        model = spec.params_model.model_validate(dict(params))
    except ValidationError as exc:
        return None, _pydantic_errors(exc, spec.params_model)
    errors = model.cross_errors()
    return (None, errors) if errors else (model, [])


def validate_params(template: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], list[ParamError]]:
    """Check a block's params: ``(normalized params as JSON-ready dict, [])`` or ``({}, errors)``."""
    model, errors = parse_params(template, params)
    if model is None:
        return {}, errors
    return model.model_dump(mode="json"), []


def discover_block_files(templates_dir: str | Path) -> dict[str, Path]:
    """The block template files present on disk, by template name."""
    folder = Path(templates_dir) / BLOCKS_SUBDIR
    if not folder.is_dir():
        return {}
    return {
        p.name[: -len(TEMPLATE_SUFFIX)]: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name.endswith(TEMPLATE_SUFFIX)
    }


def check_templates(env: Any) -> list[str]:
    """Problems of the registered block templates in a Jinja ``Environment`` (for readiness).

    Each registered template must exist and compile; an empty list means all is well.
    """
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    problems: list[str] = []
    for spec in BLOCK_TEMPLATES.values():
        try:
            env.get_template(spec.path)
        except TemplateNotFound:
            problems.append(f"block template {spec.name!r}: file {spec.path} is missing")
        except TemplateSyntaxError as exc:
            problems.append(
                f"block template {spec.name!r}: {spec.path} line {exc.lineno} does not compile: {exc.message}"
            )
        except Exception as exc:  # noqa: BLE001 - a readiness probe reports, it does not crash
            problems.append(f"block template {spec.name!r}: {spec.path} cannot be loaded: {exc}")
    return problems
