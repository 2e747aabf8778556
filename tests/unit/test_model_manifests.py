"""Every published-model loader refuses a manifest that is not a JSON object, with a
reason the registry reports (ModelRejected), not a crash of the watcher."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.scoring.attribute_models import ModelRejected, load_model_set
from app.scoring.ranker_model import load_ranker
from app.scoring.uplift_model import load_uplift


@pytest.mark.parametrize("load", [load_model_set, load_ranker, load_uplift])
@pytest.mark.parametrize("text", ["[1, 2]", '"a model"', "{not json"])
def test_a_manifest_that_is_not_an_object_is_refused(tmp_path: Path, load: Callable[[Path], Any], text: str) -> None:
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ModelRejected, match="manifest unreadable"):
        load(tmp_path)
