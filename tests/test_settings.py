from pathlib import Path

import pytest

from archipel.settings import SettingsError, load_settings, setting_fields, write_settings

DOCS = Path(__file__).parent.parent / "docs" / "settings.md"


def test_every_setting_is_documented():
    documented = DOCS.read_text("utf-8")
    missing = [f.name for f in setting_fields() if f"`{f.name}`" not in documented]
    assert missing == []


def test_environment_overrides_the_file(tmp_path):
    write_settings(tmp_path, url="https://ile.example", name="Île", handle="ile")
    settings = load_settings(tmp_path, environ={"ARCHIPEL_ALLOW_PRIVATE_NETWORKS": "1",
                                                "ARCHIPEL_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
    assert settings.allow_private_networks is True
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
    assert settings.host == "ile.example"
    assert load_settings(tmp_path, environ={}).allow_private_networks is False


def test_bad_settings_are_clear_errors(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path)
    write_settings(tmp_path, url="https://ile.example", name="Île", handle="ile")
    with pytest.raises(SettingsError, match="ARCHIPEL_FETCH_TIMEOUT"):
        load_settings(tmp_path, environ={"ARCHIPEL_FETCH_TIMEOUT": "soon"})
    (tmp_path / "archipel.toml").write_text('url = "https://x"\nhandle = "x"\ncolour = "blue"\n')
    with pytest.raises(SettingsError, match="colour"):
        load_settings(tmp_path, environ={})
