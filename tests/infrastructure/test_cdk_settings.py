"""Settings: a typo in a context value stops the synth with a message naming the setting."""

from __future__ import annotations

import json
import re

import pytest

from cdk.settings import Settings, SettingsError, VpcSetting
from tests.infrastructure.synthesis import VPC_CONTEXT


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
        pytest.param("decision_timeout_seconds", 30, "decisionTimeoutSeconds", id="decision-timeout-too-short"),
        pytest.param("decision_timeout_seconds", 90000, "decisionTimeoutSeconds", id="decision-timeout-too-long"),
        pytest.param("on_decision_timeout", "wait", "onDecisionTimeout", id="unknown-on-timeout"),
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


# --- the `vpc` setting (docs/NETWORK.md) ----------------------------------------------------------------


def _vpc(**changes: object) -> dict[str, object]:
    vpc = {**VPC_CONTEXT["vpc"], **changes}
    return {"vpc": vpc, "dynamodbPrefixList": VPC_CONTEXT["dynamodbPrefixList"]}


def test_vpc_context_is_read_from_an_object_or_a_json_string() -> None:
    from aws_cdk import App

    as_object = Settings.from_context(App(context=VPC_CONTEXT).node)
    as_string = Settings.from_context(App(context={**VPC_CONTEXT, "vpc": json.dumps(VPC_CONTEXT["vpc"])}).node)
    assert as_object == as_string
    assert as_object.vpc is not None
    assert as_object.vpc.zones == ("us-east-1a", "us-east-1b", "us-east-1c")
    assert Settings.from_context(App().node).vpc is None


_SUBNET = VPC_CONTEXT["vpc"]["subnets"][0]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        pytest.param({"vpc": "{not json"}, "'vpc' must be a JSON object", id="not-json"),
        pytest.param({"vpc": {"id": "vpc-0123456789abcdef0"}}, "list of subnets", id="no-subnets"),
        pytest.param(_vpc(subnets=[{"id": "subnet-0123456789abcdef0"}]), "missing 'zone'", id="subnet-without-zone"),
        pytest.param(_vpc(id="vpc-xyz"), "id must be a VPC id", id="bad-vpc-id"),
        pytest.param(_vpc(cidr="10.0.0.0/33"), "cidr must be an IPv4 block", id="bad-cidr"),
        pytest.param(_vpc(subnets=[{**_SUBNET, "id": "sub-1"}] * 1), "subnet id", id="bad-subnet-id"),
        pytest.param(_vpc(subnets=[{**_SUBNET, "zone": "us-east-1"}]), "subnet zone", id="region-as-zone"),
        pytest.param(_vpc(subnets=[{**_SUBNET, "routeTable": "rt-1"}]), "routeTable", id="bad-route-table"),
        pytest.param(_vpc(subnets=[_SUBNET]), "at least 2 zones", id="one-zone"),
        pytest.param(_vpc(subnets=[_SUBNET, _SUBNET]), "at least 2 zones", id="two-subnets-one-zone"),
        pytest.param({**_vpc(), "region": "eu-west-1"}, "every subnet must be in region eu-west-1", id="other-region"),
        pytest.param({"vpc": VPC_CONTEXT["vpc"]}, "'dynamodbPrefixList' must be the id", id="no-prefix-list"),
        pytest.param({**_vpc(), "dynamodbPrefixList": "dynamodb"}, "'dynamodbPrefixList'", id="bad-prefix-list"),
        pytest.param({"dynamodbPrefixList": "pl-02cd2c6b"}, "only used with 'vpc'", id="prefix-list-alone"),
        pytest.param(
            {"exampleCluster": "east-1"}, "'dynamodbPrefixList' must be the id", id="cluster-without-prefix-list"
        ),
        pytest.param({**_vpc(), "exampleCluster": "east-1"}, "both place Ferry in a VPC", id="vpc-and-cluster"),
    ],
)
def test_a_wrong_vpc_setting_fails_naming_the_setting_and_the_field(context: dict[str, object], message: str) -> None:
    from aws_cdk import App

    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_context(App(context=context).node)


def test_a_vpc_setting_parses_to_frozen_subnets_in_the_given_order() -> None:
    setting = VpcSetting.parse(VPC_CONTEXT["vpc"])
    setting.validate()
    assert [s.id for s in setting.subnets] == [s["id"] for s in VPC_CONTEXT["vpc"]["subnets"]]
