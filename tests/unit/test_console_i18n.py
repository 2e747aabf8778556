"""The console's two catalogs hold the same messages, and the language is chosen as documented."""

from __future__ import annotations

import re
import string
from pathlib import Path

from app.console.i18n import LANGUAGES, Translator, accepted_languages, catalog, choose_language
from app.rights.definition import KINDS

TEMPLATES = Path(__file__).resolve().parents[2] / "assets" / "templates" / "console"
CONSOLE_CODE = Path(__file__).resolve().parents[2] / "app" / "console"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    zh, en = catalog("zh"), catalog("en")
    assert set(zh) == set(en)
    for key in zh:
        assert placeholders(zh[key]) == placeholders(en[key]), key
        assert zh[key].strip() and en[key].strip(), key


def test_every_literal_key_the_console_uses_is_in_the_catalog() -> None:
    used: set[str] = set()
    for path in [*TEMPLATES.glob("*.j2"), *CONSOLE_CODE.glob("*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text(encoding="utf-8")))
    assert used, "no keys found: the pattern is broken"
    assert used <= set(catalog("en")), sorted(used - set(catalog("en")))
    # and the keys built from data: groups, stages, segments, actions, devices
    for prefix, names in {
        "group": ["visitor", "fan", "purchaser", "member"],
        "lifecycle": ["prospect", "new", "growth", "mature", "dormant", "churned", "unknown"],
        "action": ["put", "delete", "rollback"],
        "device": ["mobile", "desktop"],
        "right_kind": list(KINDS),
        "right_mode": ["uplift", "crowd", "default"],
        "right_status": ["active", "paused"],
    }.items():
        for name in names:
            assert f"{prefix}.{name}" in catalog("zh")
    # and the keys handed to shared helpers (parse_definition, rollback_item) to look up
    for key in ("rights.bad_json", "experiments.bad_json", "rights.no_version", "crowds.no_version"):
        assert key in catalog("zh") and key in catalog("en"), key


def test_language_choice_order() -> None:
    assert choose_language(None, None, None) == "zh"
    assert choose_language(None, None, "en-US,en;q=0.9") == "en"
    assert choose_language(None, None, "fr-FR, en;q=0.5, zh-CN;q=0.8") == "zh"
    assert choose_language(None, "en", "zh-CN") == "en"  # the cookie beats the browser
    assert choose_language("zh", "en", "en") == "zh"  # ?lang= beats both
    assert choose_language("xx", None, "en;q=0, zh;q=0.1") == "zh"
    assert accepted_languages("en;q=0.3, zh-TW;q=0.9, *;q=0.1") == ["zh", "en"]
    assert accepted_languages("en;q=oops") == []


def test_translator_formats_and_subsets() -> None:
    t = Translator("en")
    assert t("crowds.edit", id="vip") == "Edit crowd vip"
    assert set(t.subset("js.")) and all(k.startswith("js.") for k in t.subset("js."))
    assert Translator("xx").lang == "zh" and set(LANGUAGES) == {"zh", "en"}
