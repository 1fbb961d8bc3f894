"""IAM policies: the one list of grants covers what the client calls and what the template creates."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from app.cloud import policies
from app.cloud.policy_check import PolicyCheck, check_policy, load_policy_file
from app.errors import PolicyInvalidError
from tests.support import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
# The client's code, plus the S3 transport it uploads and downloads through.
CLIENT_FILES = [*sorted((ROOT / "app" / "cloud").glob("*.py")), ROOT / "app" / "aws" / "s3_transport.py"]
# Client attributes / variable names that hold a boto3 client, and the IAM prefix of their service.
RECEIVERS = {
    "s3": "s3",
    "sfn": "states",
    "cloudformation": "cloudformation",
    "ecr": "ecr",
    "sts": "sts",
    "lambda_": "lambda",
}
SERVICE_PREFIX = {"stepfunctions": "states", "secretsmanager": "secretsmanager", "lambda": "lambda"}
NOT_API = {"get_paginator", "get_waiter", "exceptions", "close", "meta", "can_paginate"}
WAITER_ACTIONS = {"stack_": "cloudformation:DescribeStacks", "change_set_": "cloudformation:DescribeChangeSet"}


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def receiver_service(node: ast.expr, aliases: dict[str, str], path: Path) -> str | None:
    """The IAM prefix of the client ``node`` evaluates to, when it is recognisably one."""
    if isinstance(node, ast.Attribute) and node.attr in RECEIVERS:
        return RECEIVERS[node.attr]
    if isinstance(node, ast.Name) and node.id in aliases:
        return aliases[node.id]
    if isinstance(node, ast.Attribute) and node.attr == "client" and path.name == "s3_transport.py":
        return "s3"
    return None


def client_factory_service(node: ast.expr) -> str | None:
    """``x.client("svc")`` / ``boto3.client("svc")`` → the service's IAM prefix."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "client"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return SERVICE_PREFIX.get(node.args[0].value, node.args[0].value)
    return None


def client_aliases(tree: ast.AST, path: Path) -> dict[str, str]:
    """Local names bound to a boto3 client (``s3 = aws.s3``, ``client = x.client("secretsmanager")``)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            service = client_factory_service(node.value) or receiver_service(node.value, {}, path)
            if service:
                aliases[node.targets[0].id] = service
    return aliases


def call_action(node: ast.Call, aliases: dict[str, str], path: Path) -> str | None:
    """The API operation (``svc:Op``) one call makes, if it is a client call or an ``aws_call``."""
    literal = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
    if isinstance(node.func, ast.Name):
        return str(literal) if node.func.id == "aws_call" and isinstance(literal, str) else None
    if not isinstance(node.func, ast.Attribute):
        return None
    service = receiver_service(node.func.value, aliases, path) or client_factory_service(node.func.value)
    method = node.func.attr
    if service is None:
        return None
    if method == "get_paginator" and isinstance(literal, str):
        return f"{service}:{pascal(literal)}"
    if method == "get_waiter" and isinstance(literal, str):
        return next(action for prefix, action in WAITER_ACTIONS.items() if literal.startswith(prefix))
    return None if method in NOT_API else f"{service}:{pascal(method)}"


def scanned_calls() -> dict[str, set[str]]:
    """IAM action → files, for every boto3 call and ``aws_call("svc:Op")`` in the client's code."""
    found: dict[str, set[str]] = {}
    for path in CLIENT_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = client_aliases(tree, path)
        for node in ast.walk(tree):
            operation = call_action(node, aliases, path) if isinstance(node, ast.Call) else None
            if operation is not None:
                found.setdefault(policies.iam_action(operation), set()).add(path.name)
    return found


def test_the_scan_finds_the_calls_it_is_meant_to_find() -> None:
    # Guards the scanner itself, on calls known to exist in the client.
    calls = scanned_calls()
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "secretsmanager:GetSecretValue"} <= set(calls)


def test_every_aws_call_the_client_makes_is_in_the_one_list() -> None:
    required = set(policies.required_actions())
    uncovered = {action: sorted(files) for action, files in scanned_calls().items() if action not in required}
    assert not uncovered, f"add these to app/cloud/policies.py GRANTS (or OPERATION_ACTIONS): {uncovered}"


def test_every_resource_type_in_the_template_has_its_grant() -> None:
    types = {resource["Type"] for resource in cfn_yaml.load(TEMPLATE)["Resources"].values()}
    missing = sorted(t for t in types if not policies.actions_for(t))
    assert not missing, f"deploy creates {missing} but no grant in app/cloud/policies.py names them"


def test_every_grant_is_needed_by_a_verb_or_a_resource_type_of_the_template() -> None:
    types = {resource["Type"] for resource in cfn_yaml.load(TEMPLATE)["Resources"].values()}
    for grant in policies.GRANTS:
        stale = set(grant.needed_by) - types - set(policies.VERBS)
        assert not stale, f"grant {grant.sid} names {sorted(stale)}, which nothing needs"
    assert all(policies.actions_for(verb) for verb in policies.VERBS)


def test_user_policy_is_allow_only_without_action_wildcards_and_scoped_to_the_stack() -> None:
    document = policies.user_policy("prod")
    assert document["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"])
        for resource in statement["Resource"]:
            assert resource == "*" or "prod" in resource, (statement["Sid"], resource)
            assert "{" not in resource
    star = {a for s in document["Statement"] if s["Resource"] == ["*"] for a in s["Action"]}
    log_delivery = next(g.actions for g in policies.GRANTS if g.sid == "LogDelivery")
    assert star == {
        "sts:GetCallerIdentity",
        "ecr:GetAuthorizationToken",
        "secretsmanager:GetRandomPassword",
        *log_delivery,
    }


def test_role_form_has_a_trust_policy_for_the_principal_and_the_same_permissions() -> None:
    role = policies.role_policy("arn:aws:iam::123456789012:user/ci", "prod")
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:user/ci"}
    assert role["PolicyDocument"] == policies.user_policy("prod")
    assert policies.role_policy("123456789012")["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::123456789012:root"
    }


@pytest.mark.parametrize("principal", ["", "12345", "arn:aws:s3:::bucket", "root; drop"])
def test_role_form_refuses_a_principal_that_is_not_one(principal: str) -> None:
    with pytest.raises(PolicyInvalidError, match="neither a 12-digit account id nor an IAM ARN"):
        policies.role_policy(principal)


# ---------------------------------------------------------------------------------------- checker


def without(action: str) -> dict[str, Any]:
    document = policies.user_policy()
    for statement in document["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != action]
    return document


def test_the_generated_policy_is_complete() -> None:
    assert check_policy(policies.user_policy()).complete
    assert check_policy(policies.role_policy("123456789012")).complete


def test_a_policy_missing_one_action_names_it() -> None:
    result = check_policy(without("states:StopExecution"))
    assert result.missing == ["states:StopExecution"] and not result.complete


def test_wildcards_strings_and_case_are_understood() -> None:
    document = {
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
        ]
    }
    assert check_policy(document).complete
    by_service = {
        "Statement": {"Effect": "Allow", "Action": [f"{p}:*" for p in _prefixes()] + ["S3:get?bject"], "Resource": "*"}
    }
    assert check_policy(by_service).complete
    partial = {"Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "S3:PUTOBJECT"], "Resource": "*"}]}
    result = check_policy(partial, ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
    assert result.missing == ["s3:DeleteObject"]


def test_not_action_and_denies_are_honoured() -> None:
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert check_policy(not_action).missing == policies.actions_for("AWS::IAM::Role")
    deny = {
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "NoDelete", "Effect": "Deny", "Action": "cloudformation:DeleteStack", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]
    }
    result = check_policy(deny)
    assert result == PolicyCheck(
        required=len(policies.required_actions()),
        missing=[],
        denied=["cloudformation:DeleteStack"],
        conditional_denies=["Statement[2]"],
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "not an IAM policy"),
        ({"Version": "2012-10-17"}, "not an IAM policy"),
        ({"Statement": "x"}, "Statement must be"),
        ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "neither Action nor NotAction"),
        ({"Statement": [{"Effect": "allow", "Action": "*"}]}, "Effect 'allow'"),
        ({"Statement": [{"Effect": "Allow", "Action": 5}]}, "must be a string or a list"),
    ],
)
def test_what_is_not_a_policy_is_refused(document: Any, message: str) -> None:
    with pytest.raises(PolicyInvalidError, match=message):
        check_policy(document)


def test_unreadable_or_invalid_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyInvalidError, match="cannot read"):
        load_policy_file(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(PolicyInvalidError, match="not valid JSON"):
        load_policy_file(bad)


def _prefixes() -> set[str]:
    return {a.split(":")[0] for a in policies.required_actions()}


# -------------------------------------------------------------------------------------------- CLI


def test_cli_user_policy_is_json_and_validates_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli.main import main

    assert main(["lambda", "policies", "user", "--stack", "prod"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == policies.user_policy("prod")
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(printed), encoding="utf-8")
    assert main(["lambda", "policies", "validate", str(path)]) == 0


def test_cli_validate_exits_1_naming_the_missing_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli.main import main

    path = tmp_path / "policy.json"
    path.write_text(json.dumps(without("ecr:PutImage")), encoding="utf-8")
    assert main(["lambda", "policies", "validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert "missing: ecr:PutImage" in captured.out + captured.err
    assert main(["lambda", "policies", "validate", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["missing"] == ["ecr:PutImage"]


@pytest.mark.parametrize("content", [None, "{oops", '{"Version": "2012-10-17"}'])
def test_cli_validate_exits_2_on_a_file_that_is_not_a_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    from app.cli.main import main

    path = tmp_path / "policy.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["lambda", "policies", "validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert "POLICY_INVALID:" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err


def test_cli_role_needs_a_valid_principal(capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli.main import main

    assert main(["lambda", "policies", "role", "--principal", "nobody"]) == 2
    assert "POLICY_INVALID" in "".join(capsys.readouterr())
    assert main(["lambda", "policies", "role", "--principal", "123456789012", "--stack", "prod"]) == 0
    assert json.loads(capsys.readouterr().out)["RoleName"] == "prod-framecast-deployer"
    assert main(["lambda", "policies", "user", "--stack", "bad name!"]) == 2
