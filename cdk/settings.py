"""The deployment's settings, read from CDK context once and validated before anything is built.

A typo in `-c mode=akt` must stop the synth with a message that names the setting and its allowed values,
not deploy a Ferry that silently observes (or acts) against the operator's intent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from constructs import Node

from cdk.configuration import load_configuration
from cdk.constants import (
    DEFAULT_ACCOUNT,
    DEFAULT_CONFIG,
    DEFAULT_LOG_LEVEL,
    DEFAULT_MODE,
    DEFAULT_PROBE_INTERVAL_MINUTES,
    DEFAULT_REGION,
    LOG_LEVELS,
    MODES,
    PROBE_INTERVAL_RANGE,
    REPO_ROOT,
    ContextKey,
)
from ferry.domain.configuration import Configuration

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SettingsError(ValueError):
    """A context value is out of range; the message names the setting and what it accepts."""


@dataclass(frozen=True)
class Settings:
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    mode: str = DEFAULT_MODE
    log_level: str = DEFAULT_LOG_LEVEL
    notify_email: str | None = None
    probe_interval_minutes: int = DEFAULT_PROBE_INTERVAL_MINUTES
    config_file: Path = DEFAULT_CONFIG
    configuration: Configuration = field(default_factory=Configuration)  # read from config_file, problems named

    @classmethod
    def from_context(cls, node: Node) -> Settings:
        def get(key: str, default: str | None) -> str | None:
            value = node.try_get_context(key)
            return default if value in (None, "") else str(value)

        settings = cls(
            account=get(ContextKey.ACCOUNT, DEFAULT_ACCOUNT) or DEFAULT_ACCOUNT,
            region=get(ContextKey.REGION, DEFAULT_REGION) or DEFAULT_REGION,
            mode=(get(ContextKey.MODE, DEFAULT_MODE) or DEFAULT_MODE).lower(),
            log_level=(get(ContextKey.LOG_LEVEL, DEFAULT_LOG_LEVEL) or DEFAULT_LOG_LEVEL).upper(),
            notify_email=get(ContextKey.NOTIFY_EMAIL, None),
            probe_interval_minutes=_whole_number(
                ContextKey.PROBE_INTERVAL_MINUTES,
                get(ContextKey.PROBE_INTERVAL_MINUTES, None),
                DEFAULT_PROBE_INTERVAL_MINUTES,
            ),
        )
        settings.validate()
        config_file = REPO_ROOT / (get(ContextKey.CONFIG, None) or DEFAULT_CONFIG)
        return replace(settings, config_file=config_file, configuration=load_configuration(config_file))

    def validate(self) -> None:
        if not _ACCOUNT.match(self.account):
            raise SettingsError(f"context '{ContextKey.ACCOUNT}' must be 12 digits, got {self.account!r}")
        if not _REGION.match(self.region):
            raise SettingsError(
                f"context '{ContextKey.REGION}' must be a region name like us-east-1, got {self.region!r}"
            )
        if self.mode not in MODES:
            raise SettingsError(f"context '{ContextKey.MODE}' must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(
                f"context '{ContextKey.LOG_LEVEL}' must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"
            )
        if self.notify_email is not None and not _EMAIL.match(self.notify_email):
            raise SettingsError(
                f"context '{ContextKey.NOTIFY_EMAIL}' must be an e-mail address, got {self.notify_email!r}"
            )
        low, high = PROBE_INTERVAL_RANGE
        if not low <= self.probe_interval_minutes <= high:
            raise SettingsError(
                f"context '{ContextKey.PROBE_INTERVAL_MINUTES}' must be a whole number of minutes from {low} to "
                f"{high}, got {self.probe_interval_minutes!r}"
            )


def _whole_number(key: str, raw: str | None, default: int) -> int:
    """A context value given as a number (cdk.json) or a string (-c key=5); the range is checked by validate."""
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"context '{key}' must be a whole number, got {raw!r}") from None
