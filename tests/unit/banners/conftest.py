"""Uploaded fonts are written to files for FreeType (app.banners.fonts.font_file): in a
directory of the test session's own, not the machine's temporary one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from app.banners.fonts import FONT_DIR_ENV


@pytest.fixture(scope="session", autouse=True)
def _font_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get(FONT_DIR_ENV)
    os.environ[FONT_DIR_ENV] = str(tmp_path_factory.mktemp("fonts"))
    yield
    if before is None:
        os.environ.pop(FONT_DIR_ENV, None)
    else:
        os.environ[FONT_DIR_ENV] = before
