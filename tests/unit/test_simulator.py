"""The shop simulator: reproducible, driven by its hidden traits, readable by the service."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from app.api.schemas import EventsIn, ProductsIn, VisitorsIn
from app.core.events import parse_event
from app.core.known import validate_known
from app.core.orders import RowError, order_events
from app.core.profile import Event, fold
from training import sim_io
from training.simulator import (
    AGE_BANDS,
    DAY,
    DEFAULT_CATEGORIES,
    SimConfig,
    Simulation,
    VisitorTruth,
    intent_labels,
    simulate,
)


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(SimConfig(seed=7, n_visitors=1200, days=50))


def small(seed: int, **kw: object) -> Simulation:
    return simulate(SimConfig(seed=seed, n_visitors=200, n_products=60, days=20, **kw))  # type: ignore[arg-type]


def by_visitor(sim: Simulation) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for e in sim.events:
        out[e.visitor_id].append(e)
    return out


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, len(scores) + 1)
    pos = labels.sum()
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * (len(labels) - pos)))


# --- configuration and reproducibility ------------------------------------------------


def test_defaults_are_fixed_and_match_the_demo_shop() -> None:
    from app.demo import CATEGORIES

    cfg = SimConfig(seed=1)
    assert (cfg.n_products, cfg.n_visitors, cfg.days, cfg.known_share, cfg.list_size) == (300, 5000, 120, 0.3, 20)
    assert cfg.start == datetime(2026, 1, 1, tzinfo=UTC).timestamp() - 8 * 3600  # midnight in Shanghai
    assert cfg.categories == DEFAULT_CATEGORIES == tuple(CATEGORIES)


@pytest.mark.parametrize(
    "bad", [{"known_share": 1.5}, {"n_visitors": 0}, {"list_size": 0}, {"categories": ()}, {"categories": ("a", "a")}, {"start": 1000.0}]
)
def test_bad_configs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SimConfig(seed=1, **bad)  # type: ignore[arg-type]


def test_same_seed_same_simulation_other_seed_other() -> None:
    a, b, c = small(3), small(3), small(4)
    assert a.fingerprint() == b.fingerprint()
    assert a.events == b.events and a.impressions == b.impressions and a.visitors == b.visitors
    assert a.products == b.products and a.contexts == b.contexts
    assert c.fingerprint() != a.fingerprint()
    assert [e.event_id for e in c.events] != [e.event_id for e in a.events]
    assert [v.gender for v in c.visitors] != [v.gender for v in a.visitors]


def test_progress_bars_change_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = small(6)
    loud = simulate(quiet.config, progress=True)
    assert loud.fingerprint() == quiet.fingerprint()
    assert "events" in capsys.readouterr().err  # tqdm writes to stderr


def test_the_fingerprint_sees_a_change_of_config() -> None:
    assert small(3).fingerprint() != small(3, known_share=0.5).fingerprint()


def test_other_categories_and_tiny_catalogs_work() -> None:
    s = simulate(SimConfig(seed=2, n_visitors=50, n_products=7, days=5, categories=("tea", "cups"), list_size=10))
    assert {p.category for p in s.products} == {"tea", "cups"}
    assert all(set(v.affinity) == {"tea", "cups"} for v in s.visitors)
    assert s.impressions and all(len(m.product_ids) <= 7 for m in s.impressions)
    assert all(len(set(m.product_ids)) == len(m.product_ids) for m in s.impressions)


# --- products and visitors ------------------------------------------------------------


def test_products_have_category_price_levels(sim: Simulation) -> None:
    assert len(sim.products) == 300 and len({p.id for p in sim.products}) == 300
    median = {c: np.median([p.price for p in sim.products if p.category == c]) for c in sim.config.categories}
    assert median["digital"] > 3 * median["beauty"] > 6 * median["food"] / 2
    assert all(p.price >= 9.9 and p.stock >= 0 and p.added_at is not None for p in sim.products)
    assert all(any(t in p.tags for t in ("premium", "budget", "standard")) for p in sim.products)
    new = [p for p in sim.products if "new" in p.tags]
    assert new and all(p.added_at >= sim.start for p in new)  # type: ignore[operator]


def test_visitor_traits_are_well_formed(sim: Simulation) -> None:
    for v in sim.visitors:
        assert v.gender in ("female", "male") and v.age_band in AGE_BANDS
        assert v.price_sensitivity in ("low", "mid", "high")
        assert math.isclose(sum(v.affinity.values()), 1.0) and min(v.affinity.values()) > 0
        assert 0 < v.propensity < 1 and v.sessions >= 1
    share_female = np.mean([v.gender == "female" for v in sim.visitors])
    assert 0.55 < share_female < 0.65


def test_known_share_and_crm_records(sim: Simulation) -> None:
    known = [v for v in sim.visitors if v.known]
    assert len(known) == round(0.3 * len(sim.visitors))
    assert all(not v.known_attributes for v in sim.visitors if not v.known)
    assert all(v.known_attributes["gender"] == v.gender for v in known)
    assert all(v.known_attributes["is_fan"] == v.is_fan for v in known)
    for v in known:
        assert validate_known(v.known_attributes) == []
        if "birthday" in v.known_attributes:
            born = datetime.strptime(v.known_attributes["birthday"], "%Y-%m-%d").replace(tzinfo=UTC)
            age = (sim.start - born.timestamp()) / (365.2425 * DAY)
            lo = int(v.age_band.split("-")[0].rstrip("+"))
            assert lo - 0.01 <= age < (70 if v.age_band == "55+" else int(v.age_band.split("-")[1]) + 1)
    assert 0.1 < np.mean(["member_level" in v.known_attributes for v in known]) < 0.9
    assert all(("member_since" in v.known_attributes) == ("member_level" in v.known_attributes) for v in known)


def test_none_and_all_known() -> None:
    assert not any(v.known for v in small(5, known_share=0.0).visitors)
    assert all(v.known for v in small(5, known_share=1.0).visitors)


# --- the hidden traits drive what is observed -------------------------------------------------


def test_gender_drives_category_views(sim: Simulation) -> None:
    views: dict[str, Counter[str]] = {"female": Counter(), "male": Counter()}
    for e in sim.events:
        if e.type == "view":
            views[sim.visitor_index[e.visitor_id].gender][e.category] += 1  # type: ignore[index]
    share = {g: {c: n / sum(v.values()) for c, n in v.items()} for g, v in views.items()}
    assert share["female"]["beauty"] > 1.5 * share["male"]["beauty"]
    assert share["female"]["women"] > 1.5 * share["male"]["women"]
    assert share["male"]["digital"] > 1.5 * share["female"]["digital"]
    assert share["male"]["men"] > 1.5 * share["female"]["men"]


def test_behaviour_tells_gender_but_not_perfectly(sim: Simulation) -> None:
    """Views separate the genders well, yet not perfectly, even for visitors who viewed a lot.

    The score is the best one views allow: each view weighs the log ratio of the
    categories' mean affinity for women and for men (naive Bayes with the true means).
    """
    cats = sim.config.categories
    mean = {g: np.mean([[v.affinity[c] for c in cats] for v in sim.visitors if v.gender == g], axis=0) for g in ("female", "male")}
    weight = dict(zip(cats, np.log(mean["female"] / mean["male"]), strict=True))
    sample = {v.visitor_id for v in sim.visitors[:400]}  # what the service's profile holds, for some
    events = by_visitor(sim)
    labels, scores, many = [], [], []
    for v in sim.visitors:
        if v.visitor_id in sample:
            seen = dict(fold(events.get(v.visitor_id, [])).viewed_categories)
        else:
            seen = Counter(str(e.category) for e in events.get(v.visitor_id, []) if e.type == "view")
        if seen:
            labels.append(v.gender == "female")
            scores.append(sum(n * weight[c] for c, n in seen.items()))
            many.append(sum(seen.values()) >= 10)
    y, s, m = np.array(labels), np.array(scores), np.array(many)
    assert 0.75 < auc(y, s) < 0.93
    assert m.sum() > 200 and auc(y[m], s[m]) < 0.97


def test_age_band_shows_in_hours_and_baby_views(sim: Simulation) -> None:
    hours: dict[str, list[int]] = defaultdict(list)
    for c in sim.contexts:
        hours[sim.visitor_index[c.visitor_id].age_band].append(c.hour)
    late = {band: np.mean([h >= 21 or h < 2 for h in hs]) for band, hs in hours.items()}
    assert late["18-24"] > 1.5 * late["55+"]
    baby: dict[str, list[int]] = defaultdict(list)
    for e in sim.events:
        if e.type == "view":
            baby[sim.visitor_index[e.visitor_id].age_band].append(e.category == "baby")
    assert np.mean(baby["25-34"]) > 2 * np.mean(baby["18-24"])


def test_price_sensitivity_lowers_what_is_bought(sim: Simulation) -> None:
    ratio: dict[str, list[float]] = defaultdict(list)  # price relative to the category median
    median = {c: np.median([p.price for p in sim.products if p.category == c]) for c in sim.config.categories}
    for e in sim.events:
        if e.type == "purchase":
            p = sim.product_index[e.product_id]  # type: ignore[index]
            ratio[sim.visitor_index[e.visitor_id].price_sensitivity].append(p.price / median[p.category])
    assert np.mean(ratio["high"]) < 0.85 * np.mean(ratio["low"])
    assert np.mean(ratio["high"]) < np.mean(ratio["mid"]) < np.mean(ratio["low"])


def test_propensity_drives_orders_and_visits(sim: Simulation) -> None:
    orders = Counter(e.visitor_id for e in sim.events if e.type == "purchase")
    prop = np.array([v.propensity for v in sim.visitors])
    n_orders = np.array([orders[v.visitor_id] for v in sim.visitors])
    sessions = np.array([v.sessions for v in sim.visitors])
    assert np.corrcoef(prop, n_orders)[0, 1] > 0.3
    assert np.corrcoef(prop, sessions)[0, 1] > 0.3
    # some never buy, and buying is not certain even for the keen
    assert 0.15 < np.mean(n_orders > 0) < 0.7


def test_device_and_channel_lean_with_age(sim: Simulation) -> None:
    young = [v for v in sim.visitors if v.age_band == "18-24"]
    old = [v for v in sim.visitors if v.age_band in ("45-54", "55+")]

    def mobile(vs: list[VisitorTruth]) -> float:
        return float(np.mean([v.device == "mobile" for v in vs]))

    def social(vs: list[VisitorTruth]) -> float:
        return float(np.mean([v.channel == "social" for v in vs]))

    assert mobile(young) > mobile(old) + 0.1 and social(young) > social(old) + 0.1
    assert mobile(old) > 0.3  # a lean, not a rule
    own = Counter(c.device == sim.visitor_index[c.visitor_id].device for c in sim.contexts)
    assert 0.8 < own[True] / len(sim.contexts) < 0.99


def test_lifecycles_vary(sim: Simulation) -> None:
    first_week = sum(v.active_from < sim.start + 7 * DAY for v in sim.visitors)
    last_weeks = sum(v.active_from > sim.end - 14 * DAY for v in sim.visitors)
    dormant = [v for v in sim.visitors if v.dormant_from is not None]
    assert first_week > 0.3 * len(sim.visitors) and last_weeks > 0.05 * len(sim.visitors)
    assert 0.2 * len(sim.visitors) < len(dormant) < 0.9 * len(sim.visitors)
    last_seen: dict[str, float] = {}
    for c in sim.contexts:
        last_seen[c.visitor_id] = c.ts
    assert all(last_seen[v.visitor_id] < v.dormant_from + DAY for v in dormant)  # type: ignore[operator]
    assert all(sim.start <= v.active_from < sim.end for v in sim.visitors)


def test_fans_follow_once(sim: Simulation) -> None:
    follows = Counter(e.visitor_id for e in sim.events if e.type == "follow")
    fans = {v.visitor_id for v in sim.visitors if v.is_fan}
    assert set(follows) == fans and set(follows.values()) == {1}
    assert 0.05 < len(fans) / len(sim.visitors) < 0.5


# --- impressions --------------------------------------------------------------------------


def test_impressions_are_full_lists_with_consistent_labels(sim: Simulation) -> None:
    size = sim.config.list_size
    ids = {p.id for p in sim.products}
    assert len({m.impression_id for m in sim.impressions}) == len(sim.impressions)
    assert [m.ts for m in sim.impressions] == sorted(m.ts for m in sim.impressions)
    for m in sim.impressions:
        assert len(m.product_ids) == len(m.clicked) == len(m.carted) == len(m.purchased) == size
        assert len(set(m.product_ids)) == size and set(m.product_ids) <= ids
        assert all(c or not a for c, a in zip(m.clicked, m.carted, strict=True))  # a cart needs a click
        assert all(a or not p for a, p in zip(m.carted, m.purchased, strict=True))  # a purchase needs a cart
        assert m.labels() == tuple(2 if p else 1 if c else 0 for c, p in zip(m.clicked, m.purchased, strict=True))
    assert sum(any(m.purchased) for m in sim.impressions) > 100


def test_impressions_match_the_events(sim: Simulation) -> None:
    clicked = {(m.impression_id, pid) for m in sim.impressions for pid, c in zip(m.product_ids, m.clicked, strict=True) if c}
    bought = {(m.impression_id, pid) for m in sim.impressions for pid, b in zip(m.product_ids, m.purchased, strict=True) if b}
    assert {(e.render_id, e.product_id) for e in sim.events if e.type == "click"} == clicked
    assert {(e.render_id, e.product_id) for e in sim.events if e.type == "purchase" and e.render_id} == bought
    exposures = [str(e.render_id) for e in sim.events if e.type == "exposure"]
    assert sorted(exposures) == sorted(m.impression_id for m in sim.impressions)
    sessions = {c.session_id: c for c in sim.contexts}
    for m in sim.impressions[:500]:
        s = sessions[m.session_id]
        assert (s.visitor_id, s.device, s.channel, s.hour) == (m.visitor_id, m.device, m.channel, m.hour)
        assert s.ts <= m.ts < s.ts + 3 * 3600


def test_lists_follow_popularity_with_noise(sim: Simulation) -> None:
    pop = {t.product_id: t.popularity for t in sim.product_truth}
    home = [m for m in sim.impressions if m.list_category is None]
    assert home
    top = np.mean([[pop[p] for p in m.product_ids[:5]] for m in home])
    bottom = np.mean([[pop[p] for p in m.product_ids[10:]] for m in home])
    assert top > bottom + 0.2  # earlier = more popular …
    assert len({m.product_ids for m in home}) > 0.9 * len(home)  # … but every list is shuffled a little
    cat_lists = [m for m in sim.impressions if m.list_category]
    first = Counter(sim.product_index[m.product_ids[0]].category == m.list_category for m in cat_lists)
    assert first[True] > 0.9 * len(cat_lists)


def test_position_bias_for_the_same_product(sim: Simulation) -> None:
    """The same product is clicked more often when it is shown higher up."""
    shown: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # early shows, early clicks, late …
    for m in sim.impressions:
        for k, (pid, c) in enumerate(zip(m.product_ids, m.clicked, strict=True)):
            row = shown[pid]
            j = 0 if k < 5 else 2 if k >= 10 else None
            if j is not None:
                row[j] += 1
                row[j + 1] += c
    early = late = 0.0
    for n_early, c_early, n_late, c_late in shown.values():
        if n_early >= 20 and n_late >= 20:
            early += c_early / n_early
            late += c_late / n_late
    assert early > 1.5 * late
    ctr = np.mean([m.clicked for m in sim.impressions], axis=0)
    assert ctr[:5].mean() > 2 * ctr[10:].mean()


def test_true_probabilities_match_what_happened(sim: Simulation) -> None:
    expected_clicks = expected_buys = 0.0
    sample = sim.impressions[::5]
    for m in sample:
        pc, pb = sim.true_probabilities(m.visitor_id, m.product_ids)
        expected_clicks += pc.sum()
        expected_buys += pb.sum()
    clicks = sum(sum(m.clicked) for m in sample)
    buys = sum(sum(m.purchased) for m in sample)
    assert abs(clicks - expected_clicks) < 4 * math.sqrt(expected_clicks)  # a binomial sum: sd < sqrt(mean)
    assert abs(buys - expected_buys) < 4 * math.sqrt(expected_buys)


def test_a_personal_ranking_can_beat_popularity(sim: Simulation) -> None:
    """Re-ranking each list by the visitor's true purchase probability sells more: room for a model."""
    shown = best = 0.0
    for m in sim.impressions[::10]:
        _, pb = sim.true_probabilities(m.visitor_id, m.product_ids)
        shown += pb.sum()
        order = np.argsort(-pb, kind="stable")
        _, pb_best = sim.true_probabilities(m.visitor_id, [m.product_ids[i] for i in order])
        best += pb_best.sum()
    assert best > 1.2 * shown


# --- events -------------------------------------------------------------------------------


def test_events_are_sorted_unique_and_refer_to_products(sim: Simulation) -> None:
    ev = sim.events
    assert [e.ts for e in ev] == sorted(e.ts for e in ev)
    assert len({e.event_id for e in ev}) == len(ev)
    assert {e.type for e in ev} == {"view", "click", "add_to_cart", "purchase", "follow", "exposure"}
    products = sim.product_index
    quantities: Counter[int] = Counter()
    for e in ev:
        assert sim.start <= e.ts < sim.end + DAY and e.ts == int(e.ts)
        assert e.visitor_id in sim.visitor_index
        if e.type in ("view", "click", "add_to_cart", "purchase"):
            p = products[e.product_id]  # type: ignore[index]
            assert e.category == p.category
            assert p.added_at <= e.ts  # type: ignore[operator]
        else:
            assert e.product_id is None
        if e.type == "purchase":
            assert e.amount_cents and e.amount_cents > 0
            assert e.amount_cents % round(p.price * 100) == 0  # price × quantity
            quantities[e.amount_cents // round(p.price * 100)] += 1
        else:
            assert e.amount_cents is None
    assert set(quantities) == {1, 2, 3} and quantities[1] > 0.7 * sum(quantities.values())


def test_funnels_are_in_order(sim: Simulation) -> None:
    seen: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for e in sim.events:
        if e.product_id and e.render_id:
            seen[(e.render_id, e.product_id)].setdefault(e.type, e.ts)
    for steps in seen.values():
        assert steps["click"] < steps["view"]
        if "add_to_cart" in steps:
            assert steps["view"] < steps["add_to_cart"]
        if "purchase" in steps:
            assert steps["add_to_cart"] < steps["purchase"]
    counts = Counter(e.type for e in sim.events)
    assert counts["view"] > counts["click"] > counts["add_to_cart"] > counts["purchase"]  # organic views too


def test_intent_labels(sim: Simulation) -> None:
    cutoff = sim.start + 30 * DAY
    labels = intent_labels(sim, cutoff)
    assert set(labels) == {v.visitor_id for v in sim.visitors if v.active_from < cutoff}
    buyers = {e.visitor_id for e in sim.events if e.type == "purchase" and cutoff <= e.ts < cutoff + 7 * DAY}
    assert {v for v, y in labels.items() if y} == buyers & set(labels)
    assert 0.02 < np.mean(list(labels.values())) < 0.5
    some = next(e for e in sim.events if e.type == "purchase")
    assert sim.purchased_between(some.visitor_id, some.ts, some.ts + 1)
    assert not sim.purchased_between(some.visitor_id, some.ts + 1, some.ts + 1)


# --- files ----------------------------------------------------------------------------------


def test_events_file_round_trip_through_the_service_parser(sim: Simulation, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    assert sim_io.write_events_jsonl(sim, path) == len(sim.events)
    assert sim_io.read_events_jsonl(path, sim.products) == sim.events
    now = sim.end + 1
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines[:3000] + lines[-3000:]):
        raw = json.loads(line)
        event, errors = parse_event(raw, f"$.events[{i}]", now)
        assert errors == [] and event is not None
    EventsIn.model_validate({"events": [json.loads(x) for x in lines[:10_000]]})  # the API's body schema


def test_reading_a_bad_events_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"event_id": "a", "type": "view", "visitor_id": "v", "ts": 1767196800}\n{"event_id": "b", "type": "purchase", "visitor_id": "v", "ts": 1767196800}\n')
    with pytest.raises(ValueError, match="line 2"):
        sim_io.read_events_jsonl(path)


def test_orders_csv_imports_without_errors(sim: Simulation, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    n = sim_io.write_orders_csv(sim, path)
    purchases = [e for e in sim.events if e.type == "purchase"]
    assert n == len(purchases)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(order_events(csv.DictReader(f), sim.end + 1))
    assert not [r for r in rows if isinstance(r, RowError)]
    assert [(e.visitor_id, e.ts, e.amount_cents, e.product_id) for e in rows] == [  # type: ignore[union-attr]
        (e.visitor_id, e.ts, e.amount_cents, e.product_id) for e in purchases
    ]


def test_products_and_visitors_files_fit_the_api(sim: Simulation, tmp_path: Path) -> None:
    sim_io.write_products_json(sim, tmp_path / "p.json")
    sim_io.write_visitors_json(sim, tmp_path / "v.json")
    products = ProductsIn.model_validate_json((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert [p.id for p in products.products] == [p.id for p in sim.products]
    assert sim_io.read_products_json(tmp_path / "p.json") == sim.products
    visitors = VisitorsIn.model_validate_json((tmp_path / "v.json").read_text(encoding="utf-8"))
    assert [v.visitor_id for v in visitors.visitors] == [v.visitor_id for v in sim.visitors if v.known]
    assert all(validate_known(v.attributes) == [] for v in visitors.visitors)


def test_truth_impressions_and_sessions_round_trip(sim: Simulation, tmp_path: Path) -> None:
    written = sim_io.write_all(sim, tmp_path / "out")
    assert {p.name for p in written} == {*sim_io.FILES, "manifest.json"}
    out = tmp_path / "out"
    assert sim_io.read_truth_csv(out / "truth.csv") == sim.visitors
    assert sim_io.read_impressions_jsonl(out / "impressions.jsonl") == sim.impressions
    assert sim_io.read_sessions_csv(out / "sessions.csv") == sim.contexts
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["fingerprint"] == sim.fingerprint()
    assert manifest["rows"]["events.jsonl"] == len(sim.events)
    header = (out / "truth.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert {"gender", "age_band", "price_sensitivity", "propensity", "affinity_beauty"} <= set(header)


def test_command_line_writes_the_files(tmp_path: Path) -> None:
    from training.simulator import main

    main(["--seed", "2", "--visitors", "30", "--products", "40", "--days", "3", "--out", str(tmp_path)])
    assert (tmp_path / "events.jsonl").stat().st_size > 0
    assert json.loads((tmp_path / "manifest.json").read_text())["config"]["n_visitors"] == 30
