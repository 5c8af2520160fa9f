import importlib
from pathlib import Path

import pytest
from notes.settings import DEFAULT_URL, DbSettings, SettingsError, load_db_settings


def test_default_when_unset() -> None:
    assert load_db_settings({}) == DbSettings(url=DEFAULT_URL, echo=False)
    assert DEFAULT_URL == "sqlite:///instance/notes.db"


def test_json_value() -> None:
    env = {"NOTES_DB": '{"url": "sqlite:////srv/notes/instance/x.db", "echo": true}'}
    assert load_db_settings(env) == DbSettings(url="sqlite:////srv/notes/instance/x.db", echo=True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{url: sqlite://}", "not valid JSON"),
        ('["sqlite://"]', "must be a JSON object"),
        ('{"url": ""}', "'url' must be a non-empty string"),
        ('{"echo": "yes"}', "'echo' must be true or false"),
        ('{"uri": "sqlite://"}', "unknown keys"),
    ],
)
def test_invalid_values(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_db_settings({"NOTES_DB": value})


def test_invalid_json_fails_at_import(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTES_DB", "not json")
    # RuntimeError: the import defines a new SettingsError class, not the one imported above.
    with pytest.raises(RuntimeError, match="NOTES_DB is not valid JSON") as raised:
        importlib.import_module("notes.main")
    assert type(raised.value).__name__ == "SettingsError"


def test_import_writes_only_activity_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No instance/ made by the app: the deploy provides it."""
    monkeypatch.delenv("NOTES_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    from conftest import forget_notes

    forget_notes()
    try:
        importlib.import_module("notes.main")
        assert sorted(path.name for path in tmp_path.iterdir()) == ["activity.log"]
    finally:
        forget_notes()
