"""The deployment's settings, read from CDK context once and validated before anything is built.

A typo in `-c mode=akt` must stop the synth with a message that names the setting and its allowed values,
not deploy a Ferry that silently observes (or acts) against the operator's intent.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from constructs import Node

from cdk.configuration import load_configuration
from cdk.constants import (
    DEFAULT_ACCOUNT,
    DEFAULT_CONFIG,
    DEFAULT_LOG_LEVEL,
    DEFAULT_MODE,
    DEFAULT_ON_DECISION_TIMEOUT,
    DEFAULT_PROBE_INTERVAL_MINUTES,
    DEFAULT_READINESS_HOUR_UTC,
    DEFAULT_REGION,
    LOG_LEVELS,
    MIN_VPC_ZONES,
    MODES,
    ON_DECISION_TIMEOUT_CHOICES,
    PROBE_INTERVAL_RANGE,
    READINESS_HOUR_RANGE,
    REPO_ROOT,
    ContextKey,
    ExampleClusterKey,
)
from ferry.domain.configuration import Configuration
from ferry.domain.conventions import DECISION_TIMEOUT_RANGE, DEFAULT_DECISION_TIMEOUT_SECONDS

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_ROUTE_TABLE_ID = re.compile(r"^rtb-[0-9a-f]{8,17}$")
_PREFIX_LIST_ID = re.compile(r"^pl-[0-9a-f]{8,17}$")
_ZONE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")


class SettingsError(ValueError):
    """A context value is out of range; the message names the setting and what it accepts."""


@dataclass(frozen=True)
class SubnetSetting:
    """One private subnet Ferry's in-VPC functions get a network interface in."""

    id: str
    zone: str
    route_table: str  # DynamoDB's gateway endpoint adds its route here


@dataclass(frozen=True)
class VpcSetting:
    """An existing VPC, given by id: synth must work offline, so nothing is looked up (no `Vpc.from_lookup`)."""

    id: str
    cidr: str  # the Kubernetes API endpoints (6443) are reached in it
    subnets: tuple[SubnetSetting, ...]

    @classmethod
    def parse(cls, raw: Any) -> VpcSetting:
        """From cdk.json (an object) or `-c vpc='{...}'` (a JSON string); fields checked by `validate`."""
        key = ContextKey.VPC
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as error:
                raise SettingsError(f"context '{key}' must be a JSON object: {error}") from None
        if not isinstance(raw, Mapping) or not isinstance(raw.get("subnets"), list):
            raise SettingsError(f"context '{key}' must be an object with id, cidr and a list of subnets, got {raw!r}")
        try:
            subnets = tuple(
                SubnetSetting(id=str(s["id"]), zone=str(s["zone"]), route_table=str(s["routeTable"]))
                for s in raw["subnets"]
            )
            return cls(id=str(raw["id"]), cidr=str(raw["cidr"]), subnets=subnets)
        except (KeyError, TypeError) as error:
            raise SettingsError(
                f"context '{key}': missing {error} (subnets are objects with id, zone and routeTable)"
            ) from None

    def validate(self) -> None:
        key = ContextKey.VPC
        if not _VPC_ID.match(self.id):
            raise SettingsError(f"context '{key}': id must be a VPC id like vpc-0123456789abcdef0, got {self.id!r}")
        try:
            ipaddress.IPv4Network(self.cidr)
        except ValueError:
            raise SettingsError(
                f"context '{key}': cidr must be an IPv4 block like 10.0.0.0/16, got {self.cidr!r}"
            ) from None
        for subnet in self.subnets:
            if not _SUBNET_ID.match(subnet.id):
                raise SettingsError(
                    f"context '{key}': subnet id must be like subnet-0123456789abcdef0, got {subnet.id!r}"
                )
            if not _ZONE.match(subnet.zone):
                raise SettingsError(
                    f"context '{key}': subnet zone must be a zone name like us-east-1a, got {subnet.zone!r}"
                )
            if not _ROUTE_TABLE_ID.match(subnet.route_table):
                raise SettingsError(
                    f"context '{key}': subnet routeTable must be like rtb-0123456789abcdef0, got {subnet.route_table!r}"
                )
        zones = [subnet.zone for subnet in self.subnets]
        # Interface endpoints take one subnet per zone; and a Ferry whose functions live in one zone dies with it.
        if len(set(zones)) != len(zones) or len(zones) < MIN_VPC_ZONES:
            raise SettingsError(
                f"context '{key}': give one private subnet in each of at least {MIN_VPC_ZONES} zones (every zone "
                f"the clusters use), got zones {zones}"
            )

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(subnet.zone for subnet in self.subnets)


@dataclass(frozen=True)
class Settings:
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    mode: str = DEFAULT_MODE
    log_level: str = DEFAULT_LOG_LEVEL
    notify_email: str | None = None
    probe_interval_minutes: int = DEFAULT_PROBE_INTERVAL_MINUTES
    decision_timeout_seconds: int = DEFAULT_DECISION_TIMEOUT_SECONDS
    on_decision_timeout: str = DEFAULT_ON_DECISION_TIMEOUT
    readiness_hour_utc: int = DEFAULT_READINESS_HOUR_UTC  # when the daily ferry-Readiness run starts
    config_file: Path = DEFAULT_CONFIG
    configuration: Configuration = field(default_factory=Configuration)  # read from config_file, problems named
    # None: the functions run outside any VPC (they reach public API endpoints only).
    vpc: VpcSetting | None = None
    dynamodb_prefix_list: str | None = None
    # The example SelfManagedCluster's name (cdk/app.py): Ferry then goes into that cluster's VPC.
    example_cluster: str | None = None

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
            decision_timeout_seconds=_whole_number(
                ContextKey.DECISION_TIMEOUT_SECONDS,
                get(ContextKey.DECISION_TIMEOUT_SECONDS, None),
                DEFAULT_DECISION_TIMEOUT_SECONDS,
            ),
            on_decision_timeout=(
                get(ContextKey.ON_DECISION_TIMEOUT, DEFAULT_ON_DECISION_TIMEOUT) or DEFAULT_ON_DECISION_TIMEOUT
            ).lower(),
            readiness_hour_utc=_whole_number(
                ContextKey.READINESS_HOUR_UTC,
                get(ContextKey.READINESS_HOUR_UTC, None),
                DEFAULT_READINESS_HOUR_UTC,
            ),
            vpc=_vpc(node.try_get_context(ContextKey.VPC)),
            dynamodb_prefix_list=get(ContextKey.DYNAMODB_PREFIX_LIST, None),
            example_cluster=get(ExampleClusterKey.EXAMPLE_CLUSTER, None),
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
        low, high = DECISION_TIMEOUT_RANGE
        if not low <= self.decision_timeout_seconds <= high:
            raise SettingsError(
                f"context '{ContextKey.DECISION_TIMEOUT_SECONDS}' must be a whole number of seconds from {low} to "
                f"{high}, got {self.decision_timeout_seconds}"
            )
        if self.on_decision_timeout not in ON_DECISION_TIMEOUT_CHOICES:
            raise SettingsError(
                f"context '{ContextKey.ON_DECISION_TIMEOUT}' must be one of {', '.join(ON_DECISION_TIMEOUT_CHOICES)}, "
                f"got {self.on_decision_timeout!r}"
            )
        low, high = PROBE_INTERVAL_RANGE
        if not low <= self.probe_interval_minutes <= high:
            raise SettingsError(
                f"context '{ContextKey.PROBE_INTERVAL_MINUTES}' must be a whole number of minutes from {low} to "
                f"{high}, got {self.probe_interval_minutes!r}"
            )
        low, high = READINESS_HOUR_RANGE
        if not low <= self.readiness_hour_utc <= high:
            raise SettingsError(
                f"context '{ContextKey.READINESS_HOUR_UTC}' must be a whole hour of the day (UTC) from {low} to "
                f"{high}, got {self.readiness_hour_utc!r}"
            )
        if self.vpc is not None:
            self.vpc.validate()
            if self.vpc.zones and not all(zone.startswith(self.region) for zone in self.vpc.zones):
                raise SettingsError(f"context '{ContextKey.VPC}': every subnet must be in region {self.region}")
            self._validate_prefix_list()
            if self.example_cluster is not None:
                raise SettingsError(
                    f"context '{ContextKey.VPC}' and '{ExampleClusterKey.EXAMPLE_CLUSTER}' both place Ferry in a VPC "
                    "(the example cluster's own): give one"
                )
        elif self.example_cluster is not None:
            self._validate_prefix_list()
        elif self.dynamodb_prefix_list is not None:
            raise SettingsError(
                f"context '{ContextKey.DYNAMODB_PREFIX_LIST}' is only used with '{ContextKey.VPC}' or "
                f"'{ExampleClusterKey.EXAMPLE_CLUSTER}'"
            )

    def _validate_prefix_list(self) -> None:
        # The functions' security group lets them reach DynamoDB's gateway endpoint through this list only;
        # CloudFormation cannot look a managed prefix list up by name, and synth looks nothing up.
        if self.dynamodb_prefix_list is None or not _PREFIX_LIST_ID.match(self.dynamodb_prefix_list):
            raise SettingsError(
                f"context '{ContextKey.DYNAMODB_PREFIX_LIST}' must be the id (pl-...) of com.amazonaws.{self.region}."
                f"dynamodb when Ferry runs in a VPC, got {self.dynamodb_prefix_list!r} (aws ec2 "
                "describe-managed-prefix-lists --filters Name=prefix-list-name,Values=com.amazonaws.REGION.dynamodb)"
            )


def _vpc(raw: Any) -> VpcSetting | None:
    return None if raw in (None, "") else VpcSetting.parse(raw)


def _whole_number(key: str, raw: str | None, default: int) -> int:
    """A context value given as a number (cdk.json) or a string (-c key=5); the range is checked by validate."""
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"context '{key}' must be a whole number, got {raw!r}") from None
