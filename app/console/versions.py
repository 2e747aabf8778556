"""Rolling a configuration item back to one of its versions from the console.

The same store call and reference check as the API's ``…:rollback``: a version that
names something deleted since is refused with the API's message.
"""

from __future__ import annotations

from fastapi.responses import RedirectResponse, Response

from app.api.routes.configs import reference_check, reference_refusal
from app.console.access import PostedForm
from app.store import configs as config_store
from app.store.configs import ConfigRejected, UnknownVersion


async def rollback_item(posted: PostedForm, kind: str, item_id: str, section: str) -> Response:
    """Roll ``kind`` ``item_id`` back to the posted version; back to its page under
    ``/console/{section}``, or an error page (404 for no such version)."""
    v = posted.visit
    try:
        version = int(str(posted.form.get("version") or ""))
        record = await config_store.rollback(v.state.redis, v.shop_id, kind, item_id, version, check=reference_check(kind, item_id, False))
    except (ValueError, UnknownVersion):
        return v.page("console/error.html.j2", section=section, status=404, title=v.t("error.not_found"), message=v.t(f"{section}.no_version", id=item_id))
    except ConfigRejected as exc:
        refusal = reference_refusal(kind, item_id, False, exc.problems)
        return v.page("console/error.html.j2", section=section, status=refusal.status, title=v.t("error.refused"), message=refusal.message)
    return RedirectResponse(f"/console/{section}/{item_id}?rolled_back={record.from_version}", status_code=303)
