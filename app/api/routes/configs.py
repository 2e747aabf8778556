"""Versioned configuration endpoints, the same for crowds, blocks and pages.

    PUT    /v1/shops/{shop}/{plural}/{id}            create or replace (201 on create)
    GET    /v1/shops/{shop}/{plural}/{id}            the current body and version
    GET    /v1/shops/{shop}/{plural}                 all items
    DELETE /v1/shops/{shop}/{plural}/{id}            refused (409) while a page uses it
    GET    /v1/shops/{shop}/{plural}/{id}/versions   the history, oldest first
    POST   /v1/shops/{shop}/{plural}/{id}:rollback   {"version": n} becomes current again

(No ``from __future__ import annotations`` here: FastAPI reads the body model of the
routes built in :func:`add_config_routes` from the real annotation objects.)
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.auth import Merchant, State
from app.api.errors import ApiError, Problem
from app.api.schemas import Rollback
from app.api.state import AppState
from app.core.references import dangling_references
from app.store import configs as config_store
from app.store.configs import ConfigRejected, Configs, UnknownVersion, VersionRecord

ItemId = PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# The same bounds as a type, for path parameters of any name (FastAPI names a shared
# ``Path()`` default after the first parameter it meets; an annotation is copied per use).
ConfigItemId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]

# Turns a validated request model into the body to store, or the problems found in it.
Prepare = Callable[[Any], tuple[dict[str, Any], list[Problem], list[Problem]]]  # body, errors, warnings


def reference_check(kind: str, item_id: str, deleting: bool) -> Callable[[Configs], list[Any]]:
    def check(proposed: Configs) -> list[Any]:
        dangling = dangling_references(proposed)
        if deleting:
            return [ref for ref in dangling if ref.kind == kind and ref.target == item_id]
        # A write is refused only for references it makes itself.
        return [ref for ref in dangling if ref.owner_kind == kind and ref.owner_id == item_id]

    return check


def reference_refusal(kind: str, item_id: str, deleting: bool, refs: list[Any]) -> ApiError:
    if deleting:
        problems = [
            Problem(f"{r.owner_kind}:{r.owner_id}{r.path[1:]}", "in_use", f"{r.owner_kind.capitalize()} '{r.owner_id}' uses {kind} '{item_id}' at {r.path}.")
            for r in refs
        ]
        return ApiError.from_problems(
            409, "in_use", problems, used_by=sorted({r.owner_id for r in refs}),
            used_by_items=sorted({f"{r.owner_kind}:{r.owner_id}" for r in refs}),
        )
    problems = [Problem(r.path, "unknown_reference", f"There is no {r.kind} '{r.target}' in this shop.") for r in refs]
    return ApiError.from_problems(422, "unknown_reference", problems)


async def write_checked(state: AppState, shop_id: str, kind: str, item_id: str, stored: dict[str, Any]) -> tuple[VersionRecord, bool]:
    """Write one item (a new version) unless it names something the shop lacks; also
    whether it existed before. The console's forms write through here too, so both
    refuse the same references alike (422 ``unknown_reference``)."""
    existed = await config_store.get_item(state.redis, shop_id, kind, item_id) is not None
    try:
        record = await config_store.write(state.redis, shop_id, kind, item_id, stored, check=reference_check(kind, item_id, False))
    except ConfigRejected as exc:
        raise reference_refusal(kind, item_id, False, exc.problems) from None
    return record, existed


def add_config_routes(
    router: APIRouter,
    kind: str,
    plural: str,
    model: type[BaseModel] | None,
    prepare: Prepare | None,
    *,
    error_code: str | None = None,
    with_put: bool = True,
    with_rollback: bool = True,
    guard_delete: Callable[[str, dict[str, Any]], ApiError | None] | None = None,
) -> None:
    """``guard_delete(id, current body)`` may refuse a delete the references allow
    (a running experiment, say); ``with_put=False`` leaves PUT to the caller."""
    error_code = error_code or f"invalid_{kind}"
    async def put_item(shop: Merchant, state: State, body: model, item_id: str = ItemId) -> JSONResponse:  # type: ignore[valid-type]
        assert prepare is not None
        stored, errors, warnings = prepare(body)
        if errors:
            raise ApiError.from_problems(422, error_code, errors)
        record, existed = await write_checked(state, shop.shop_id, kind, item_id, stored)
        out = {"id": item_id, "version": record.version, **stored, "warnings": [w.as_dict() for w in warnings]}
        return JSONResponse(out, status_code=200 if existed else 201)

    async def get_item(shop: Merchant, state: State, item_id: str = ItemId) -> dict[str, Any]:
        body = await config_store.get_item(state.redis, shop.shop_id, kind, item_id)
        if body is None:
            raise ApiError(404, f"{kind}_not_found", f"There is no {kind} '{item_id}' in this shop.")
        versions = await config_store.history(state.redis, shop.shop_id, kind, item_id)
        return {"id": item_id, "version": versions[-1].version if versions else None, **body}

    async def list_items(shop: Merchant, state: State) -> dict[str, Any]:
        cfg = await config_store.read_all(state.redis, shop.shop_id)
        return {plural: [{"id": k, **v} for k, v in sorted(cfg[kind].items())]}

    async def delete_item(shop: Merchant, state: State, item_id: str = ItemId) -> dict[str, Any]:
        current = await config_store.get_item(state.redis, shop.shop_id, kind, item_id)
        if current is None:
            raise ApiError(404, f"{kind}_not_found", f"There is no {kind} '{item_id}' in this shop.")
        refused = guard_delete(item_id, current) if guard_delete is not None else None
        if refused is not None:
            raise refused
        try:
            record = await config_store.write(
                state.redis, shop.shop_id, kind, item_id, None, check=reference_check(kind, item_id, True)
            )
        except ConfigRejected as exc:
            raise reference_refusal(kind, item_id, True, exc.problems) from None
        return {"id": item_id, "deleted": True, "version": record.version}

    async def list_versions(shop: Merchant, state: State, item_id: str = ItemId) -> dict[str, Any]:
        records = await config_store.history(state.redis, shop.shop_id, kind, item_id)
        if not records:
            raise ApiError(404, f"{kind}_not_found", f"There is no {kind} '{item_id}' in this shop, nor was there.")
        return {"id": item_id, "versions": [r.as_dict() for r in records]}

    async def rollback(shop: Merchant, state: State, body: Rollback, item_id: str = ItemId) -> dict[str, Any]:
        try:
            record = await config_store.rollback(
                state.redis, shop.shop_id, kind, item_id, body.version, check=reference_check(kind, item_id, False)
            )
        except UnknownVersion:
            raise ApiError(404, "version_not_found", f"{kind} '{item_id}' has no version {body.version}.", path="$.version") from None
        except ConfigRejected as exc:
            raise reference_refusal(kind, item_id, False, exc.problems) from None
        return {"id": item_id, **record.as_dict()}

    base = f"/v1/shops/{{shop}}/{plural}"
    if with_put:
        router.add_api_route(f"{base}/{{item_id}}", put_item, methods=["PUT"], summary=f"Create or replace a {kind}")
    router.add_api_route(f"{base}/{{item_id}}", get_item, methods=["GET"], summary=f"Read a {kind}")
    router.add_api_route(base, list_items, methods=["GET"], summary=f"List {plural}")
    router.add_api_route(f"{base}/{{item_id}}", delete_item, methods=["DELETE"], summary=f"Delete a {kind}")
    router.add_api_route(f"{base}/{{item_id}}/versions", list_versions, methods=["GET"], summary=f"Version history of a {kind}")
    if with_rollback:
        router.add_api_route(f"{base}/{{item_id}}:rollback", rollback, methods=["POST"], summary=f"Roll a {kind} back to a version")

