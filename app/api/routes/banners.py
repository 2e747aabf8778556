"""Banner elements (uploads), banner templates, previews and the composed pictures.

    POST   /v1/shops/{shop}/elements                 multipart ``file`` (+ ``cutout``): 201, or 200 for known bytes
    GET    /v1/shops/{shop}/elements[/{id}]          metadata;  .../{id}/content the bytes
    POST   /v1/shops/{shop}/elements/{id}:cutout     a cut-out of a product photo, as a new element
    DELETE /v1/shops/{shop}/elements/{id}            409 while a banner uses it
    PUT    /v1/shops/{shop}/banners/{id}             a template (versioned like pages); variants composed ahead
    POST   /v1/shops/{shop}/banners/{id}:preview     the picture for given crowd, variables, size, format
    GET    /banners/{digest}.{fmt}                   a composed banner: immutable, ETag, 304
"""

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, BackgroundTasks, Form, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import Merchant, State
from app.api.banner_hits import etag_of, not_modified, picture_headers
from app.api.errors import ApiError
from app.api.routes.configs import ItemId, add_config_routes, reference_check, reference_refusal
from app.banners.compose import ProductArt
from app.banners.cutout import cut_out
from app.banners.elements import ElementInfo, ElementLimits, decode_image, inspect_element
from app.banners.output import encode
from app.banners.problems import BannerError
from app.banners.validation import validate_template
from app.banners.wording import DEFAULT_ABSOLUTE_TERMS
from app.serving.banners import MEDIA_TYPES, CompiledBanner, element_loaders, spec_for
from app.store import catalog as catalog_store
from app.store import configs as config_store
from app.store import elements as element_store
from app.store.configs import ConfigRejected

router = APIRouter(tags=["banners"])
# (its own object: FastAPI records the parameter's name on the FieldInfo it is given)
ElementId = PathParam(min_length=4, max_length=64, pattern=r"^el_[0-9a-f]{1,60}$")
LIMITS = ElementLimits()
FORMAT_MEDIA = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "ttf": "font/ttf", "otf": "font/otf", "ttc": "font/collection"}


async def _store_element(state: Any, shop_id: str, data: bytes, meta: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
    info = await anyio.to_thread.run_sync(inspect_element, data, LIMITS)
    stored, created = await element_store.put_element(state.redis, shop_id, info, data, meta=meta)
    return {"id": info.id, **stored}, created


def _cutout_bytes(data: bytes, tolerance: int, feather: float) -> bytes:
    return encode(cut_out(decode_image(data), tolerance, feather), "png")


@router.post("/v1/shops/{shop}/elements", summary="Upload a picture or a font (checked by content)")
async def upload_element(
    shop: Merchant,
    state: State,
    file: UploadFile,
    cutout: Annotated[bool, Form(description="also cut the photo out of its plain background")] = False,
    tolerance: Annotated[int, Form(ge=0, le=255)] = 24,
) -> JSONResponse:
    data = await file.read(LIMITS.max_bytes + 1)
    if len(data) > LIMITS.max_bytes:
        raise BannerError(413, "too_large", f"The file is over {LIMITS.max_bytes} bytes.", path="file")
    out, created = await _store_element(state, shop.shop_id, data, {"name": (file.filename or "")[:200]})
    if cutout:
        if out["kind"] != "image":
            raise ApiError(422, "not_an_image", "Only a picture can be cut out.", path="cutout")
        cut = await anyio.to_thread.run_sync(_cutout_bytes, data, tolerance, 1.5)
        cut_out_el, _ = await _store_element(state, shop.shop_id, cut, {"name": f"cutout of {out['id']}", "source": out["id"]})
        return JSONResponse({**cut_out_el, "original": out}, status_code=201)
    return JSONResponse(out, status_code=201 if created else 200)


async def _element_or_404(state: Any, shop_id: str, element_id: str) -> dict[str, Any]:
    item = await config_store.get_item(state.redis, shop_id, "element", element_id)
    if item is None:
        raise ApiError(404, "element_not_found", f"There is no element '{element_id}' in this shop.")
    return item


@router.get("/v1/shops/{shop}/elements", summary="List the shop's elements")
async def list_elements(shop: Merchant, state: State) -> dict[str, Any]:
    cfg = await config_store.read_all(state.redis, shop.shop_id)
    return {"elements": [{"id": k, **v} for k, v in sorted(cfg["element"].items())]}


@router.get("/v1/shops/{shop}/elements/{element_id}", summary="An element's metadata")
async def get_element(shop: Merchant, state: State, element_id: str = ElementId) -> dict[str, Any]:
    return {"id": element_id, **await _element_or_404(state, shop.shop_id, element_id)}


@router.get("/v1/shops/{shop}/elements/{element_id}/content", summary="An element's bytes")
async def element_content(shop: Merchant, state: State, element_id: str = ElementId) -> Response:
    item = await _element_or_404(state, shop.shop_id, element_id)
    blobs = await element_store.element_bytes(state.handle.binary, shop.shop_id, [element_id])
    return Response(blobs.get(element_id, b""), media_type=FORMAT_MEDIA.get(item["format"], "application/octet-stream"))


class CutoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tolerance: Annotated[int, Field(ge=0, le=255)] = 24
    feather: Annotated[float, Field(ge=0, le=20)] = 1.5


@router.post("/v1/shops/{shop}/elements/{element_id}:cutout", summary="Cut a product photo out of its plain background")
async def cutout_element(shop: Merchant, state: State, body: CutoutIn, element_id: str = ElementId) -> JSONResponse:
    item = await _element_or_404(state, shop.shop_id, element_id)
    if item["kind"] != "image":
        raise ApiError(422, "not_an_image", f"Element '{element_id}' is a font; only a picture can be cut out.")
    blobs = await element_store.element_bytes(state.handle.binary, shop.shop_id, [element_id])
    cut = await anyio.to_thread.run_sync(_cutout_bytes, blobs[element_id], body.tolerance, body.feather)
    out, created = await _store_element(state, shop.shop_id, cut, {"name": f"cutout of {element_id}", "source": element_id})
    return JSONResponse(out, status_code=201 if created else 200)


@router.delete("/v1/shops/{shop}/elements/{element_id}", summary="Delete an element (refused while a banner uses it)")
async def delete_element(shop: Merchant, state: State, element_id: str = ElementId) -> dict[str, Any]:
    await _element_or_404(state, shop.shop_id, element_id)
    try:
        record = await element_store.delete_element(state.redis, shop.shop_id, element_id)
    except ConfigRejected as exc:
        raise reference_refusal("element", element_id, True, exc.problems) from None
    return {"id": element_id, "deleted": True, "version": record.version}


# --- banner templates ---------------------------------------------------------------------


def banner_settings(settings: dict[str, Any]) -> tuple[list[str], bool]:
    b = settings.get("banners") or {}
    return list(b.get("absolute_terms") or DEFAULT_ABSOLUTE_TERMS), bool(b.get("wording_errors", False))


async def _validate(state: Any, shop: Any, body: Any) -> tuple[Any, list[Any]]:
    cfg = await config_store.read_all(state.redis, shop.shop_id)
    fields = set(ElementInfo.model_fields)  # the stored item also has the upload's name, source
    known = {eid: ElementInfo.model_validate({k: v for k, v in {"id": eid, **meta}.items() if k in fields}) for eid, meta in cfg["element"].items()}
    fonts = [eid for eid, info in known.items() if info.kind == "font"]
    blobs = await element_store.element_bytes(state.handle.binary, shop.shop_id, fonts)
    _, load_font = element_loaders(blobs)
    terms, strict = banner_settings(shop.settings)
    return await anyio.to_thread.run_sync(lambda: validate_template(body, known, absolute_terms=terms, wording_errors=strict, load_font=load_font))


async def _precompose(state: Any, shop: Any, banner: CompiledBanner) -> None:
    config = await state.snapshots.load_config(state.redis, shop.shop_id)
    names = {c.id: c.name for c in config.crowds} if config else {}
    await state.banners.precompose(shop.shop_id, banner, names, {"shop_name": shop.name}, ())


@router.put("/v1/shops/{shop}/banners/{item_id}", summary="Create or replace a banner template")
async def put_banner(shop: Merchant, state: State, request: Request, tasks: BackgroundTasks, item_id: str = ItemId) -> JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(422, "invalid_json", "The body is not JSON.") from None
    template, warnings = await _validate(state, shop, body)
    stored = template.model_dump(mode="json")
    existed = await config_store.get_item(state.redis, shop.shop_id, "banner", item_id) is not None
    try:
        record = await config_store.write(state.redis, shop.shop_id, "banner", item_id, stored, check=reference_check("banner", item_id, False))
    except ConfigRejected as exc:
        raise reference_refusal("banner", item_id, False, exc.problems) from None
    # Composing every variant in every size takes a moment: after the answer, off the request.
    tasks.add_task(_precompose, state, shop, CompiledBanner.from_body(item_id, stored))
    out = {"id": item_id, "version": record.version, **stored, "warnings": [w.as_dict() for w in warnings]}
    return JSONResponse(out, status_code=200 if existed else 201)


class BannerListStub(BaseModel):  # the generic routes need a body model; PUT above replaces theirs
    model_config = ConfigDict(extra="allow")


add_config_routes(router, "banner", "banners", BannerListStub, lambda body: (body.model_dump(), [], []), with_put=False)


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    crowd: str | None = None
    size: str | None = None
    format: Annotated[str, Field(pattern="^(webp|png|jpg)$")] = "png"
    variables: dict[Annotated[str, Field(max_length=32)], Annotated[str, Field(max_length=200)]] = {}
    products: Annotated[list[str], Field(max_length=20)] = []  # product ids from the catalog
    template: dict[str, Any] | None = None  # an unsaved template to preview instead of the stored one


@router.post("/v1/shops/{shop}/banners/{item_id}:preview", summary="Compose a banner for given variables (for the console)")
async def preview_banner(shop: Merchant, state: State, body: PreviewIn, item_id: str = ItemId) -> Response:
    if body.template is not None:
        template, _ = await _validate(state, shop, body.template)
        stored = template.model_dump(mode="json")
    else:
        stored = await config_store.get_item(state.redis, shop.shop_id, "banner", item_id)
        if stored is None:
            raise ApiError(404, "banner_not_found", f"There is no banner '{item_id}' in this shop.")
    banner = CompiledBanner.from_body(item_id, stored)
    if body.size is not None and body.size not in {s.name for s in banner.template.sizes}:
        raise ApiError(422, "unknown_size", f"The banner has no size '{body.size}'.", path="$.size")
    arts = []
    for pid in body.products:
        p = await catalog_store.get_product(state.redis, shop.shop_id, pid)
        if p is None:
            raise ApiError(422, "unknown_product", f"There is no product '{pid}'.", path=f"$.products[{body.products.index(pid)}]")
        arts.append(ProductArt(p.title, p.price, p.image if p.image and p.image.startswith("el_") else None))
    spec = spec_for(shop.shop_id, banner, body.crowd, {"shop_name": shop.name, **body.variables}, arts, body.size, body.format)
    data = await state.banners.compose_bytes(shop.shop_id, banner, spec)
    return Response(data, media_type=MEDIA_TYPES[body.format], headers={"Cache-Control": "no-store"})


# --- composed pictures (public: the storefront's <img> fetches them) -----------------------


@router.get("/banners/{name}", summary="A composed banner", include_in_schema=True)
async def get_banner(request: Request, state: State, name: str = PathParam(max_length=80, pattern=r"^[0-9a-f]{64}\.(webp|png|jpg)$")) -> Response:
    """Hits are answered before routing (app/api/banner_hits.py); this serves the rest."""
    digest, fmt = name.split(".")
    headers = picture_headers(digest)
    if not_modified(request.headers.get("if-none-match"), etag_of(digest)):
        return Response(status_code=304, headers=headers)
    data = state.banners.cached(digest, fmt)
    if data is None:
        data = await state.banners.fetch(digest, fmt, request.query_params.get("spec"), request.query_params.get("sig"))
    return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)

