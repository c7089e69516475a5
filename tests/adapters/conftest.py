"""Adapter tests run against moto in-process; `moto_table` is the Ferry table (docs/CONVENTIONS.md) with its client.

(Named apart from tests/conftest.py's `ferry_table`, which is only the table's name.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.conftest import create_ferry_table


@dataclass(frozen=True)
class FerryTable:
    client: Any  # a low-level DynamoDB client on moto
    name: str


@pytest.fixture
def moto_table(aws: None) -> FerryTable:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return FerryTable(client, create_ferry_table(client))
