"""The detector's policy fails fast, naming the setting and its allowed range."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ferry.domain.detection import DetectionPolicy
from ferry.domain.errors import ConfigError

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def test_defaults_are_documented_values() -> None:
    policy = DetectionPolicy()

    assert (policy.window, policy.quorum, policy.hold_down, policy.max_impaired_zones) == (
        timedelta(minutes=5),
        2,
        timedelta(minutes=10),
        1,
    )
    assert (policy.probe_quorum, policy.recovery_rounds, policy.future_skew) == (3, 2, timedelta(minutes=2))


@pytest.mark.parametrize(
    ("settings", "setting", "range_text"),
    [
        pytest.param({"window": timedelta(seconds=30)}, "window", "from 60 s to 3600 s", id="window-too-short"),
        pytest.param({"window": 300}, "window", "expected a duration", id="window-not-a-duration"),
        pytest.param({"quorum": 0}, "quorum", "from 1 to 3", id="quorum-zero"),
        pytest.param({"quorum": 4}, "quorum", "from 1 to 3", id="quorum-beyond-witnesses"),
        pytest.param({"quorum": True}, "quorum", "from 1 to 3", id="quorum-bool"),
        pytest.param(
            {"hold_down": timedelta(minutes=4)}, "hold_down", "from 300 s (window)", id="hold-down-shorter-than-window"
        ),
        pytest.param(
            {"zones": ZONES, "max_impaired_zones": 3}, "max_impaired_zones", "from 1 to 2", id="limit-every-zone"
        ),
        pytest.param({"max_impaired_zones": 0}, "max_impaired_zones", "from 1 to", id="limit-zero"),
        pytest.param({"zones": ("us-east-1a",)}, "zones", "at least 2 zones", id="one-zone"),
        pytest.param({"zones": ("us-east-1a", "us-east-1a")}, "zones", "distinct", id="duplicate-zones"),
        pytest.param({"zones": ["us-east-1a", "us-east-1b"]}, "zones", "tuple of zone names", id="zones-not-tuple"),
        pytest.param(
            {"future_skew": timedelta(minutes=6)}, "future_skew", "to 300 s (window)", id="skew-beyond-window"
        ),
        pytest.param({"nodes_not_ready_fraction": 1.0}, "nodes_not_ready_fraction", "below 1", id="fraction-one"),
        pytest.param({"probe_quorum": 11}, "probe_quorum", "from 1 to 10", id="probe-quorum-too-high"),
        pytest.param({"recovery_rounds": 0}, "recovery_rounds", "from 1 to 10", id="recovery-rounds-zero"),
    ],
)
def test_bad_settings_fail_fast_with_their_range(settings: dict[str, Any], setting: str, range_text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        DetectionPolicy(**settings)

    assert raised.value.setting == setting
    assert range_text in raised.value.problem
