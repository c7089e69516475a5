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


def test_probe_interval_context_accepts_numbers_and_strings() -> None:
    from aws_cdk import App

    assert Settings.from_context(App(context={"probeIntervalMinutes": 15}).node).probe_interval_minutes == 15
    assert Settings.from_context(App(context={"probeIntervalMinutes": "60"}).node).probe_interval_minutes == 60
    assert Settings.from_context(App().node).probe_interval_minutes == 1


def test_probe_interval_that_is_not_a_number_fails_naming_the_setting() -> None:
    from aws_cdk import App

    with pytest.raises(SettingsError, match="'probeIntervalMinutes' must be a whole number, got 'often'"):
        Settings.from_context(App(context={"probeIntervalMinutes": "often"}).node)
