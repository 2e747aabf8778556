"""Products of a shop's catalog, and the in-memory index a page view ranks from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.profile import Event


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    category: str
    price: float
    stock: int
    tags: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    image: str | None = None  # an image URL, or later the element id of its picture
    added_at: float | None = None  # epoch seconds when it entered the catalog (for "new arrival")

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "price": self.price,
            "stock": self.stock,
            "tags": list(self.tags),
            "attributes": dict(self.attributes),
            "image": self.image,
            "added_at": self.added_at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Product:
        return cls(
            id=d["id"],
            title=d["title"],
            category=d["category"],
            price=float(d["price"]),
            stock=int(d["stock"]),
            tags=tuple(d.get("tags") or ()),
            attributes=dict(d.get("attributes") or {}),
            image=d.get("image"),
            added_at=d.get("added_at"),
        )


def price_position(price: np.ndarray | float, median: np.ndarray | float) -> np.ndarray | float:
    """ln(price / the typical price of its category): 0 typical, -0.7 half, +0.7 double.

    The cent added to both keeps free products finite. Ranking rows and the profile's
    record of viewed prices use this one definition, so that "cheaper than usual for
    this visitor" compares like with like.
    """
    return np.log((price + 0.01) / (median + 0.01))


@dataclass(frozen=True)
class Candidates:
    """A product pool as columns, so that ranking scores all of it in one numpy pass.

    Built once per catalog version and pool, then reused by every page view.
    """

    products: tuple[Product, ...]
    ids: tuple[str, ...]
    position: Mapping[str, int]  # product id -> row
    categories: tuple[str, ...]  # the distinct categories; category_codes index into it
    category_codes: np.ndarray  # int row -> category
    in_stock: np.ndarray  # bool
    prices: np.ndarray  # float
    added_at: np.ndarray  # float epoch seconds, NaN where unknown
    tag_rows: Mapping[str, np.ndarray]  # tag -> rows carrying it

    @classmethod
    def build(cls, products: Iterable[Product], *, in_id_order: bool = True) -> Candidates:
        """Columns of ``products``; in id order (so score ties rank by id) unless told to
        keep the given order (training keeps the order a list was shown in)."""
        prods = tuple(sorted(products, key=lambda p: p.id)) if in_id_order else tuple(products)
        categories = tuple(sorted({p.category for p in prods}))
        code = {c: i for i, c in enumerate(categories)}
        tags: dict[str, list[int]] = {}
        for i, p in enumerate(prods):
            for t in p.tags:
                tags.setdefault(t, []).append(i)
        return cls(
            products=prods,
            ids=tuple(p.id for p in prods),
            position={p.id: i for i, p in enumerate(prods)},
            categories=categories,
            category_codes=np.fromiter((code[p.category] for p in prods), dtype=np.int32, count=len(prods)),
            in_stock=np.fromiter((p.in_stock for p in prods), dtype=bool, count=len(prods)),
            prices=np.fromiter((p.price for p in prods), dtype=float, count=len(prods)),
            added_at=np.fromiter(
                (p.added_at if p.added_at is not None else np.nan for p in prods), dtype=float, count=len(prods)
            ),
            tag_rows={t: np.array(rows, dtype=np.int32) for t, rows in tags.items()},
        )

    def __len__(self) -> int:
        return len(self.products)


@dataclass(frozen=True)
class Catalog:
    """A shop's products with the indexes a product pool is drawn from."""

    products: Mapping[str, Product]
    by_category: Mapping[str, tuple[str, ...]]
    by_tag: Mapping[str, tuple[str, ...]]
    category_price: Mapping[str, float] = field(default_factory=dict)  # median price per category
    # Pools already turned into columns, by (categories, tags): a cache, not state.
    _pools: dict[tuple[tuple[str, ...], tuple[str, ...]], Candidates] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(cls, products: Iterable[Product]) -> Catalog:
        by_id = {p.id: p for p in products}
        cats: dict[str, list[str]] = {}
        tags: dict[str, list[str]] = {}
        for p in by_id.values():
            cats.setdefault(p.category, []).append(p.id)
            for t in p.tags:
                tags.setdefault(t, []).append(p.id)
        return cls(
            products=by_id,
            by_category={k: tuple(v) for k, v in cats.items()},
            by_tag={k: tuple(v) for k, v in tags.items()},
            category_price={k: float(np.median([by_id[i].price for i in v])) for k, v in cats.items()},
        )

    def price_position_milli(self, product: Product) -> int | None:
        """:func:`price_position` of a product in thousandths (an integer, so that the
        profile sums it exactly in any order); None without a usable category price."""
        median = self.category_price.get(product.category)
        if median is None or not median > 0 or not product.price >= 0:
            return None
        return round(1000 * float(price_position(product.price, median)))

    def resolve(self, event: Event) -> Event:
        """The event with what the catalog knows of its product now: the category, and the
        price position (for the visitor's record of viewed prices). Unknown products pass
        unchanged. The service applies this on ingestion; training replays get the same."""
        product = self.products.get(event.product_id) if event.product_id else None
        if product is None:
            return event
        # (a direct constructor call: dataclasses.replace costs several times more, per event)
        return Event(
            event.event_id, event.type, event.visitor_id, event.ts, event.product_id, product.category,
            event.amount_cents, event.render_id, self.price_position_milli(product), event.right_id,
        )

    def pool(self, categories: Iterable[str] = (), tags: Iterable[str] = ()) -> list[Product]:
        """Products in any of the categories and carrying any of the tags (empty = no filter)."""
        cats, tgs = list(categories), list(tags)
        if not cats and not tgs:
            return list(self.products.values())
        ids: set[str] | None = None
        if cats:
            ids = {pid for c in cats for pid in self.by_category.get(c, ())}
        if tgs:
            tagged = {pid for t in tgs for pid in self.by_tag.get(t, ())}
            ids = tagged if ids is None else ids & tagged
        return [self.products[i] for i in sorted(ids or ())]

    def candidates(self, categories: Iterable[str] = (), tags: Iterable[str] = ()) -> Candidates:
        """The pool as :class:`Candidates`, built on first use and kept with this catalog."""
        key = (tuple(sorted(categories)), tuple(sorted(tags)))
        found = self._pools.get(key)
        if found is None:
            found = Candidates.build(self.pool(*key))
            self._pools[key] = found
        return found


EMPTY_CATALOG = Catalog(products={}, by_category={}, by_tag={})
