"""cdk-nag: the AwsSolutions checks pass, and every acknowledgement is narrow, needed and explained.

The session fixture already synthesizes with the checks (a finding would fail it). These tests add what
a passing synth cannot show: that the checks really run (remove the acknowledgements and exactly the
acknowledged findings come back), and that each acknowledgement sits on one resource with a reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import Validations

from tests.infrastructure.synthesis import Synthesized, synthesize

pytestmark = pytest.mark.xdist_group("cdk-synth")


def _acknowledgements(synthesized: Synthesized) -> dict[tuple[str, str], str]:
    """(construct path, rule id) -> reason, for every acknowledgement in the app."""
    found = {}
    for construct in synthesized.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    found[(construct.node.path, rule.split("::", 1)[-1])] = reason
    return found


def test_synth_with_aws_solutions_checks_reports_nothing(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    assert [p for p in report["pluginReports"] if p["conclusion"] != "success"] == []


def test_every_acknowledgement_is_on_one_resource_with_a_reason(synthesized: Synthesized) -> None:
    acknowledgements = _acknowledgements(synthesized)
    assert acknowledgements, "expected the X-Ray and runtime acknowledgements"
    for (path, rule), reason in acknowledgements.items():
        assert rule.startswith("AwsSolutions-"), rule
        assert path.count("/") >= 2, f"{rule} acknowledged for a whole scope ({path}), not one resource"
        assert len(reason.split()) >= 12 and reason.rstrip().endswith("."), f"{path} {rule}: {reason!r}"
        if rule.startswith("AwsSolutions-IAM5"):
            assert "[" in rule, f"{path}: acknowledge one IAM5 finding, not the rule"


def test_every_acknowledgement_is_needed(
    synthesized: Synthesized, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Validations, "acknowledge", lambda self, *rules: None)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synthesize(tmp_path)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    findings = {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }
    acknowledged = _acknowledgements(synthesized)
    assert len(findings) == len(acknowledged)
    for rule, path in findings:
        assert any(rule == ack_rule and path.startswith(f"{ack_path}/") for ack_path, ack_rule in acknowledged), (
            f"{rule} at {path} was not acknowledged there"
        )
