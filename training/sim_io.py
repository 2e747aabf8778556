"""Files of a simulated shop: what the service ingests, and what training reads back.

| file | shape | goes to |
| --- | --- | --- |
| ``products.json`` | ``{"products": [...]}`` | ``PUT /v1/shops/{shop}/products`` (10,000 per call) |
| ``visitors.json`` | ``{"visitors": [{"visitor_id", "attributes"}]}``, known visitors only | ``PUT /v1/shops/{shop}/visitors`` (10,000 per call) |
| ``events.jsonl`` | one ``POST /v1/shops/{shop}/events`` item a line | the events API (10,000 per call) |
| ``orders.csv`` | ``visitor_id,ts,amount,product_id`` | ``storefront import-orders`` |
| ``impressions.jsonl`` | one :class:`~training.simulator.Impression` a line | the ranker's training set |
| ``sessions.csv`` | one :class:`~training.simulator.SessionContext` a row | page-view contexts |
| ``truth.csv`` | one :class:`~training.simulator.VisitorTruth` a row | scoring models against the truth |
| ``manifest.json`` | the config, the counts and the fingerprint | |

The purchases are in ``events.jsonl`` and in ``orders.csv``: load one of them into a
shop, not both (their event ids differ, so a purchase would count twice).

Money is written in yuan with two decimals, timestamps as epoch seconds.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.core.catalog import Catalog, Product
from app.core.events import parse_event
from app.core.profile import Event
from training.simulator import Impression, SessionContext, Simulation, VisitorTruth

PathLike = str | Path


def _events_of(source: Simulation | Iterable[Event]) -> Iterable[Event]:
    return source.events if isinstance(source, Simulation) else source


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _yuan(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def event_item(e: Event) -> dict[str, Any]:
    """One item of a ``POST /events`` body (the category is the service's to resolve)."""
    item: dict[str, Any] = {"event_id": e.event_id, "type": e.type, "visitor_id": e.visitor_id, "ts": _number(e.ts)}
    if e.product_id is not None:
        item["product_id"] = e.product_id
    if e.amount_cents is not None:
        item["amount"] = round(e.amount_cents / 100, 2)  # a number; exact to the cent
    if e.render_id is not None:
        item["render_id"] = e.render_id
    return item


def write_events_jsonl(source: Simulation | Iterable[Event], path: PathLike) -> int:
    """Events, one JSON object a line; returns how many."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for e in _events_of(source):
            f.write(json.dumps(event_item(e), ensure_ascii=False, separators=(",", ":")))
            f.write("\n")
            n += 1
    return n


def read_events_jsonl(path: PathLike, products: Iterable[Product] | None = None) -> list[Event]:
    """Events from a JSONL file, checked by the service's own parser.

    With ``products``, every event of a product gets its category and price position
    from them, as the service does when it ingests events. A bad line raises ``ValueError`` naming it.
    """
    catalog = Catalog.build(products) if products is not None else None
    out = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {line_no}: not JSON ({exc.msg})") from None
            if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("event_id", "visitor_id")):
                raise ValueError(f"{path}, line {line_no}: an event needs string event_id and visitor_id")
            event, errors = parse_event(raw, f"line {line_no}", math.inf)
            if errors or event is None:
                raise ValueError(f"{path}, " + "; ".join(f"{e.path}: {e.message}" for e in errors))
            out.append(catalog.resolve(event) if catalog is not None else event)
    return out


ORDER_COLUMNS = ("visitor_id", "ts", "amount", "product_id")


def write_orders_csv(source: Simulation | Iterable[Event], path: PathLike) -> int:
    """Purchases as the CSV ``storefront import-orders`` reads; returns how many rows."""
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(ORDER_COLUMNS)
        for e in _events_of(source):
            if e.type == "purchase":
                w.writerow((e.visitor_id, _number(e.ts), _yuan(e.amount_cents or 0), e.product_id or ""))
                n += 1
    return n


def write_products_json(sim: Simulation, path: PathLike) -> int:
    """The ``PUT /products`` body."""
    _write_json(path, {"products": [p.as_dict() for p in sim.products]})
    return len(sim.products)


def write_visitors_json(sim: Simulation, path: PathLike) -> int:
    """The ``PUT /visitors`` body: the CRM records of the known visitors only."""
    body = [{"visitor_id": v.visitor_id, "attributes": dict(v.known_attributes)} for v in sim.visitors if v.known]
    _write_json(path, {"visitors": body})
    return len(body)


def _write_json(path: PathLike, body: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(body, f, ensure_ascii=False)


def read_products_json(path: PathLike) -> list[Product]:
    with open(path, encoding="utf-8") as f:
        return [Product.from_dict(p) for p in json.load(f)["products"]]


# --- ground truth -----------------------------------------------------------------

TRUTH_COLUMNS = (
    "visitor_id", "gender", "age_band", "age", "price_sensitivity", "propensity", "device", "channel",
    "city", "is_fan", "known", "active_from", "dormant_from", "sessions", "top_category",
)  # fmt: skip


def write_truth_csv(sim: Simulation, path: PathLike) -> int:
    """Every visitor's hidden traits: the columns above, ``affinity_<category>`` per
    category, and ``known_attributes`` (the CRM record as JSON, ``{}`` if anonymous)."""
    cats = sim.config.categories
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow((*TRUTH_COLUMNS, *(f"affinity_{c}" for c in cats), "known_attributes"))
        for v in sim.visitors:
            w.writerow(
                (
                    v.visitor_id, v.gender, v.age_band, v.age, v.price_sensitivity, repr(v.propensity), v.device,
                    v.channel, v.city, int(v.is_fan), int(v.known), _number(v.active_from),
                    "" if v.dormant_from is None else repr(v.dormant_from), v.sessions, v.top_category,
                    *(repr(v.affinity[c]) for c in cats),
                    json.dumps(dict(v.known_attributes), ensure_ascii=False, sort_keys=True),
                )
            )  # fmt: skip
    return len(sim.visitors)


def read_truth_csv(path: PathLike) -> list[VisitorTruth]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        affinity = {k[len("affinity_"):]: float(x) for k, x in r.items() if k.startswith("affinity_")}
        out.append(
            VisitorTruth(
                visitor_id=r["visitor_id"],
                gender=r["gender"],
                age_band=r["age_band"],
                age=int(r["age"]),
                price_sensitivity=r["price_sensitivity"],
                affinity=affinity,
                propensity=float(r["propensity"]),
                device=r["device"],
                channel=r["channel"],
                city=r["city"],
                is_fan=r["is_fan"] == "1",
                known=r["known"] == "1",
                known_attributes=json.loads(r["known_attributes"]),
                active_from=float(r["active_from"]),
                dormant_from=float(r["dormant_from"]) if r["dormant_from"] else None,
                sessions=int(r["sessions"]),
            )
        )
    return out


# --- impressions and sessions --------------------------------------------------------


def write_impressions_jsonl(sim: Simulation, path: PathLike) -> int:
    with open(path, "w", encoding="utf-8") as f:
        for m in sim.impressions:
            d = {
                "impression_id": m.impression_id,
                "session_id": m.session_id,
                "visitor_id": m.visitor_id,
                "ts": _number(m.ts),
                "device": m.device,
                "channel": m.channel,
                "hour": m.hour,
                "list_category": m.list_category,
                "product_ids": m.product_ids,
                "clicked": m.clicked,
                "carted": m.carted,
                "purchased": m.purchased,
            }
            f.write(json.dumps(d, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")
    return len(sim.impressions)


def read_impressions_jsonl(path: PathLike) -> list[Impression]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                for k in ("product_ids", "clicked", "carted", "purchased"):
                    d[k] = tuple(d[k])
                d["ts"] = float(d["ts"])
                out.append(Impression(**d))
    return out


SESSION_COLUMNS = ("session_id", "visitor_id", "ts", "device", "channel", "hour", "weekday")


def write_sessions_csv(sim: Simulation, path: PathLike) -> int:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(SESSION_COLUMNS)
        for c in sim.contexts:
            w.writerow((c.session_id, c.visitor_id, _number(c.ts), c.device, c.channel, c.hour, c.weekday))
    return len(sim.contexts)


def read_sessions_csv(path: PathLike) -> list[SessionContext]:
    with open(path, encoding="utf-8", newline="") as f:
        return [
            SessionContext(r["session_id"], r["visitor_id"], float(r["ts"]), r["device"], r["channel"], int(r["hour"]), int(r["weekday"]))
            for r in csv.DictReader(f)
        ]


# --- everything at once -----------------------------------------------------------------

FILES: Mapping[str, Any] = {
    "products.json": write_products_json,
    "visitors.json": write_visitors_json,
    "events.jsonl": write_events_jsonl,
    "orders.csv": write_orders_csv,
    "impressions.jsonl": write_impressions_jsonl,
    "sessions.csv": write_sessions_csv,
    "truth.csv": write_truth_csv,
}


def write_all(sim: Simulation, folder: PathLike) -> Sequence[Path]:
    """Every file above into ``folder`` (created if missing), plus ``manifest.json``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    counts, written = {}, []
    for name, writer in FILES.items():
        counts[name] = writer(sim, out / name)
        written.append(out / name)
    cfg = sim.config
    manifest = {
        "config": {**asdict(cfg), "categories": list(cfg.categories)},
        "fingerprint": sim.fingerprint(),
        "rows": counts,
        "start": cfg.start,
        "end": cfg.end,
    }
    _write_json(out / "manifest.json", manifest)
    written.append(out / "manifest.json")
    return written
