"""Settings from the environment: defaults, and a clear refusal of values that cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.config import Settings, SettingsError


def test_defaults() -> None:
    s = Settings.from_env({"STOREFRONT_ADMIN_TOKEN": "t"})
    assert (s.redis_fsync, s.redis_timeout_ms, s.snapshot_ttl_s, s.admin_token_generated) == ("everysec", 150, 5.0, False)


def test_values_are_read() -> None:
    s = Settings.from_env({"STOREFRONT_REDIS_FSYNC": "always", "STOREFRONT_REDIS_TIMEOUT_MS": "90", "STOREFRONT_SNAPSHOT_TTL_S": "0.5"})
    assert (s.redis_fsync, s.redis_timeout_ms, s.snapshot_ttl_s) == ("always", 90, 0.5)
    assert s.admin_token_generated and len(s.admin_token) > 20


def test_the_rights_archive_is_under_the_data_folder_unless_set(tmp_path: Path) -> None:
    s = Settings.from_env({"STOREFRONT_DATA_DIR": str(tmp_path)})
    assert (s.rights_archive_dir, s.rights_archive_s, s.rights_log_days) == (tmp_path / "rights-log", 60.0, 400)
    shared = tmp_path / "shared"
    s = Settings.from_env({"STOREFRONT_RIGHTS_LOG_DIR": str(shared), "STOREFRONT_RIGHTS_ARCHIVE_S": "0", "STOREFRONT_RIGHTS_LOG_DAYS": "30"})
    assert (s.rights_archive_dir, s.rights_archive_s, s.rights_log_days) == (shared, 0.0, 30)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STOREFRONT_REDIS_FSYNC": "sometimes"}, "STOREFRONT_REDIS_FSYNC must be one of everysec, always, not 'sometimes'"),
        ({"STOREFRONT_REDIS_TIMEOUT_MS": "fast"}, "STOREFRONT_REDIS_TIMEOUT_MS must be a number, not 'fast'"),
        ({"STOREFRONT_SNAPSHOT_TTL_S": ""}, "STOREFRONT_SNAPSHOT_TTL_S must be a number, not ''"),
        ({"STOREFRONT_REDIS_TIMEOUT_MS": "-5"}, "STOREFRONT_REDIS_TIMEOUT_MS must be a number of at least 1, not '-5'"),
        ({"STOREFRONT_SNAPSHOT_TTL_S": "nan"}, "STOREFRONT_SNAPSHOT_TTL_S must be a number of at least 0, not 'nan'"),
        ({"STOREFRONT_CONSOLE_SESSION_S": "10"}, "STOREFRONT_CONSOLE_SESSION_S must be a number of at least 60, not '10'"),
        ({"STOREFRONT_RIGHTS_ARCHIVE_S": "-1"}, "STOREFRONT_RIGHTS_ARCHIVE_S must be a number of at least 0, not '-1'"),
        ({"STOREFRONT_RIGHTS_LOG_DAYS": "0"}, "STOREFRONT_RIGHTS_LOG_DAYS must be a number of at least 1, not '0'"),
    ],
)
def test_unusable_values_are_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert str(err.value) == message


def test_the_command_line_says_which_setting_and_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STOREFRONT_REDIS_FSYNC", "never")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err.strip() == "error: STOREFRONT_REDIS_FSYNC must be one of everysec, always, not 'never'"
