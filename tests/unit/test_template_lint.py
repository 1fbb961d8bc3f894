"""cfn-lint passes on infra/template.yaml with no findings at all.

cfn-lint validates resource properties against the CloudFormation schemas and, for a plain
``AWS::StepFunctions::StateMachine`` with an object ``Definition``, the definition against the ASL
schema (rule E3601). To ignore a rule, list it under the template's ``Metadata: cfn-lint: config:
ignore_checks`` AND give the reason under ``Metadata: LintIgnoreReasons: {RULE: why}``; none today.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import cfn_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
# cfn-lint has no __main__ module; this is what its console script runs.
CFN_LINT = [sys.executable, "-c", "from cfnlint.runner import main; main()"]


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """cfn-lint's findings for the real template and for a deliberately broken copy, in one run."""
    broken = tmp_path_factory.mktemp("lint") / "broken.yaml"
    broken.write_text(TEMPLATE.read_text(encoding="utf-8").replace("Type: Choice", "Type: Choise", 1), encoding="utf-8")
    result = subprocess.run(
        [*CFN_LINT, "--format", "parseable", "--", str(TEMPLATE), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert not result.stderr.strip(), result.stderr
    lines = result.stdout.splitlines()
    return {
        "template": [line for line in lines if line.startswith(str(TEMPLATE))],
        "broken": [line for line in lines if line.startswith(str(broken))],
        "other": [line for line in lines if not line.startswith((str(TEMPLATE), str(broken)))],
    }


def test_template_is_lint_clean(findings: dict[str, list[str]]) -> None:
    assert findings["template"] == []
    assert findings["other"] == []


def test_lint_would_catch_a_broken_state_machine_definition(findings: dict[str, list[str]]) -> None:
    # Guards the clean result above: it means something only if the definition is being checked.
    assert any("E3601" in line and "Choise" in line for line in findings["broken"]), findings["broken"]


def test_every_ignored_lint_rule_has_a_reason() -> None:
    metadata = cfn_yaml.load(TEMPLATE).get("Metadata", {})
    ignored = metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
    reasons = metadata.get("LintIgnoreReasons", {})
    unexplained = [rule for rule in ignored if not str(reasons.get(rule, "")).strip()]
    assert unexplained == [], (
        f"give each ignored cfn-lint rule a reason under Metadata.LintIgnoreReasons: {unexplained}"
    )
