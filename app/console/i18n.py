"""The console's two languages: catalogs, the choice of language, and the translator.

Every string the console shows (templates and its JavaScript) is a key of the catalogs
``messages/zh.json`` and ``messages/en.json``; a test holds their keys and placeholders
equal. Messages are ``str.format`` templates (``"{n} visitors"``). What the core says
(rule problems, refusals) keeps its own words, in English.

The language is, first to last: ``?lang=`` (which the console then remembers in a
cookie), the cookie, the browser's ``Accept-Language``, Chinese.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources

LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
COOKIE = "sf_console_lang"
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


@cache
def catalog(lang: str) -> Mapping[str, str]:
    text = resources.files("app.console").joinpath(f"messages/{lang}.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def _known(value: str | None) -> str | None:
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else None


def accepted_languages(header: str | None) -> list[str]:
    """Our languages named by an ``Accept-Language`` header, most wanted first."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.partition(";")
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        code = _known(tag)
        if code is not None and q > 0:
            ranked.append((-q, i, code))
    return list(dict.fromkeys(code for _, _, code in sorted(ranked)))


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    for candidate in (_known(query), _known(cookie), *accepted_languages(accept_language)):
        if candidate is not None:
            return candidate
    return DEFAULT_LANGUAGE


class Translator:
    """``t("crowds.title")``, ``t("crowds.size", n=3)`` in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.messages = catalog(self.lang)

    def __call__(self, key: str, **values: object) -> str:
        text = self.messages[key]  # a missing key is a bug the catalog test catches
        return text.format(**values) if values else text

    def subset(self, prefix: str) -> dict[str, str]:
        """The messages under a prefix (what a page's JavaScript needs)."""
        return {k: v for k, v in self.messages.items() if k.startswith(prefix)}
