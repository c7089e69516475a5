"""Settings: a typo in a context value stops the synth with a message naming the setting."""

from __future__ import annotations

import pytest

from cdk.settings import Settings, SettingsError


def test_defaults_observe_in_the_default_environment() -> None:
    settings = Settings()
    settings.validate()
    assert (settings.account, settings.region, settings.mode) == ("123456789012", "us-east-1", "observe")


@pytest.mark.parametrize(
    ("field", "value", "setting"),
    [
        pytest.param("mode", "akt", "mode", id="mode-typo"),
        pytest.param("log_level", "LOUD", "logLevel", id="unknown-log-level"),
        pytest.param("account", "1234", "account", id="short-account"),
        pytest.param("region", "moon-1", "region", id="not-a-region"),
        pytest.param("notify_email", "oncall", "notifyEmail", id="not-an-email"),
    ],
)
def test_out_of_range_settings_fail_naming_the_setting(field: str, value: str, setting: str) -> None:
    with pytest.raises(SettingsError, match=f"'{setting}'"):
        Settings(**{field: value}).validate()
