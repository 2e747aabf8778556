"""Loading published attribute models: verified against the feature code, hot-swapped,
and a broken publication never replaces a good set."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from app.core.features import FeatureSpec
from app.scoring.attribute_models import ModelRegistry, ModelRejected, load_model_set


def copy_set(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_a_good_set_loads_and_predicts_distributions(published_models: Path) -> None:
    models = load_model_set(published_models)
    assert models.attributes == {"gender", "purchase_intent_7d", "age_band", "price_sensitivity"}
    X = np.zeros((3, len(models.spec.visitor_names)))
    out = models.predict(X)
    assert len(out) == 3
    assert set(out[0]["gender"]) == {"female", "male"}
    assert sum(out[0]["age_band"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda m: m["features"].update(version="visitor-0"), "built for features"),
        (lambda m: m["features"]["names"].reverse(), "names or order"),
        (lambda m: m["models"][0].update(sha256="0" * 64), "sha256"),
        (lambda m: m.update(models=[]), "no model"),
    ],
)
def test_a_mismatched_manifest_is_refused(published_models: Path, tmp_path: Path, change, why: str) -> None:
    folder = copy_set(published_models, tmp_path / "set")
    edit_manifest(folder, change)
    with pytest.raises(ModelRejected, match=why):
        load_model_set(folder)


def test_hot_swap_and_a_broken_publication_keeps_the_last_good_set(published_models: Path, tmp_path: Path) -> None:
    live = copy_set(published_models, tmp_path / "live")
    registry = ModelRegistry(live)
    assert registry.refresh() is True and registry.status()["ok"] is True
    first = registry.current
    assert registry.refresh() is False  # nothing changed: nothing reloaded

    # a new publication with a different manifest takes over
    time.sleep(0.01)
    edit_manifest(live, lambda m: m.update(created_at="2030-01-01T00:00:00Z"))
    assert registry.refresh() is True
    assert registry.current is not first and registry.current.version.startswith("2030-01-01")

    # a broken one (model file corrupted) is refused; the set in use stays and says why
    good = registry.current
    target = live / json.loads((live / "manifest.json").read_text())["models"][0]["file"]
    target.write_text("tree\nthis is not a model")
    edit_manifest(live, lambda m: m.update(created_at="2031-01-01T00:00:00Z"))
    assert registry.refresh() is False
    assert registry.current is good
    status = registry.status()
    assert status["ok"] is False and "sha256" in status["error"] and status["version"] == good.version


def test_no_published_model_is_reported(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "nothing")
    assert registry.refresh() is False
    assert registry.current is None and "no model published" in registry.status()["error"]


def test_spec_of_the_set_matches_the_feature_code(published_models: Path) -> None:
    models = load_model_set(published_models)
    assert models.spec == FeatureSpec(categories=models.spec.categories)


def test_only_the_asked_targets_are_predicted(published_models: Path) -> None:
    models = load_model_set(published_models)
    out = models.predict(np.zeros((1, len(models.spec.visitor_names))), only={"gender"})
    assert set(out[0]) == {"gender"}
