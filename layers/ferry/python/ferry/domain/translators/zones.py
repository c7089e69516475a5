"""Recognising Availability Zones and EC2 instances in the strings AWS events carry.

AWS speaks of a zone in two ways: by name (`us-east-1a`, what Kubernetes labels and Ferry's signals use) and
by id (`use1-az1`, what ARC and some Health events use; names map to ids differently in each account).
Translators keep whichever the event gives and leave the mapping to the ingest service, so a zone string is
classified here, never converted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# us-east-1a, and Local Zones such as us-west-2-lax-1a.
_AZ_NAME = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+(?:[a-z]|-[a-z]+-\d+[a-z])")
# use1-az1, and Local Zone ids such as usw2-lax1-az1.
_AZ_ID = re.compile(r"[a-z]+\d+(?:-[a-z]+\d+)?-az\d+")
# A bare instance id, or the tail of an instance ARN (arn:aws:ec2:us-east-1:123456789012:instance/i-0abc...).
_INSTANCE = re.compile(r"(?:^|.*:instance/)(i-[0-9a-f]{8,17})")
# The same for EBS volumes (arn:aws:ec2:us-east-1:123456789012:volume/vol-0abc...).
_VOLUME = re.compile(r"(?:^|.*:volume/)(vol-[0-9a-f]{8,17})")
# A zone name or id standing as a whole word in prose: "(use1-az4)", "in us-east-1b." but not "xuse1-az4" or
# "us-east-1b-foo". AWS writes them in lower case; "US-EAST-1 Region" names a region, not a zone.
_ZONE_WORD = re.compile(rf"(?<![\w-])({_AZ_NAME.pattern}|{_AZ_ID.pattern})(?![\w-])")


@dataclass(frozen=True, slots=True)
class ZoneRef:
    """A zone as an event names it: exactly one of `name` or `id` is set."""

    name: str | None = None
    id: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.id or ""


def is_zone_name(value: str) -> bool:
    return _AZ_NAME.fullmatch(value) is not None


def is_zone_id(value: str) -> bool:
    return _AZ_ID.fullmatch(value) is not None


def classify_zone(value: str) -> ZoneRef | None:
    """`us-east-1a` -> ZoneRef(name=...), `use1-az1` -> ZoneRef(id=...), anything else -> None."""
    if is_zone_name(value):
        return ZoneRef(name=value)
    if is_zone_id(value):
        return ZoneRef(id=value)
    return None


def instance_id_in(value: str) -> str | None:
    """The instance id in `i-0abc...` or in an EC2 instance ARN; None for anything else."""
    match = _INSTANCE.fullmatch(value)
    return match.group(1) if match else None


def volume_id_in(value: str) -> str | None:
    """The volume id in `vol-0abc...` or in an EBS volume ARN; None for anything else."""
    match = _VOLUME.fullmatch(value)
    return match.group(1) if match else None


def resource_id_in(value: str) -> str | None:
    """The instance or volume id a string names (bare or as an ARN): what a zone can be looked up for."""
    return instance_id_in(value) or volume_id_in(value)


def zones_in_text(text: str) -> tuple[ZoneRef, ...]:
    """Every distinct zone name or id written as a whole word in `text`, in order of first mention."""
    found = (classify_zone(match.group(1)) for match in _ZONE_WORD.finditer(text))
    return tuple(dict.fromkeys(zone for zone in found if zone is not None))


def zone_in_instance_arn(arn: str) -> str | None:
    """The zone in an instance ARN whose region field holds a zone name.

    AWS documents the Spot interruption warning's resource as `arn:aws:ec2:us-east-2a:instance/i-...`:
    the only place that event names the zone.
    """
    parts = arn.split(":")  # the documented samples omit the account: arn:aws:ec2:<zone>:instance/<id>
    if len(parts) < 5 or parts[0] != "arn" or not parts[-1].startswith("instance/"):
        return None
    return parts[3] if is_zone_name(parts[3]) else None
