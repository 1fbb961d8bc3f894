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

from tests.support import cfn_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
# cfn-lint has no __main__ module; this is what its console script runs.
CFN_LINT = [sys.executable, "-c", "from cfnlint.runner import main; main()"]


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CFN_LINT, "--format", "parseable", "--", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_template_is_lint_clean() -> None:
    result = cfn_lint(TEMPLATE)

    assert (result.returncode, result.stdout.strip()) == (0, ""), result.stdout + result.stderr


def test_every_ignored_lint_rule_has_a_reason() -> None:
    metadata = cfn_yaml.load(TEMPLATE).get("Metadata", {})
    ignored = metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
    reasons = metadata.get("LintIgnoreReasons", {})
    unexplained = [rule for rule in ignored if not str(reasons.get(rule, "")).strip()]
    assert unexplained == [], f"give each ignored cfn-lint rule a reason under Metadata.LintIgnoreReasons: {unexplained}"


def test_lint_would_catch_a_broken_state_machine_definition(tmp_path: Path) -> None:
    # Guards the clean result above: it means something only if the definition is being checked.
    broken = TEMPLATE.read_text(encoding="utf-8").replace("Type: Choice", "Type: Choise", 1)
    path = tmp_path / "template.yaml"
    path.write_text(broken, encoding="utf-8")

    result = cfn_lint(path)

    assert result.returncode != 0
    assert "E3601" in result.stdout and "Choise" in result.stdout
