"""Static properties of infra/template.yaml that neither cfn-lint nor an execution would catch.

Security (TLS-only, private, encrypted bucket; least-privilege roles), retention (what expires, what
is kept), operability (tracing, ERROR logs, alarms, exports) and naming (everything derives from the
stack name, so two stacks never collide).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support import cfn_yaml
from tests.support.sfn_harness import load_definition

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
T = cfn_yaml.load(TEMPLATE)
RESOURCES: dict[str, dict[str, Any]] = T["Resources"]
TAGGABLE = {
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
    "AWS::StepFunctions::StateMachine",
    "AWS::SNS::Topic",
    "AWS::CloudWatch::Alarm",
}
NAME_PROPERTIES = {"FunctionName", "RoleName", "StateMachineName", "LogGroupName", "TopicName", "AlarmName"}


def of_type(type_name: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in RESOURCES.items() if res["Type"] == type_name}


def only(type_name: str) -> dict[str, Any]:
    found = list(of_type(type_name).values())
    assert len(found) == 1, f"expected one {type_name}, found {len(found)}"
    return found[0]


def props(name: str) -> dict[str, Any]:
    result: dict[str, Any] = RESOURCES[name]["Properties"]
    return result


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(role: str) -> list[dict[str, Any]]:
    return [s for policy in props(role)["Policies"] for s in as_list(policy["PolicyDocument"]["Statement"])]


def refers_to(value: Any, resource: str) -> bool:
    """True if the intrinsic ``value`` is a ``!Ref``/``!GetAtt`` of ``resource`` or a ``!Sub`` naming it."""
    if isinstance(value, dict) and "Ref" in value:
        return bool(value["Ref"] == resource)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return bool(value["Fn::GetAtt"][0] == resource)
    if isinstance(value, dict) and "Fn::Sub" in value:
        return re.search(rf"\$\{{{resource}[.}}]", value["Fn::Sub"]) is not None
    return False


def state_machine() -> dict[str, Any]:
    return props("RenderStateMachine")


def states() -> dict[str, Any]:
    result: dict[str, Any] = state_machine()["Definition"]["States"]
    return result


# ----------------------------------------------------------------------------------------- bucket


def test_bucket_blocks_all_public_access() -> None:
    assert props("RenderBucket")["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


def test_bucket_is_encrypted_at_rest() -> None:
    rules = props("RenderBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    algorithms = {rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for rule in rules}
    assert algorithms and algorithms <= {"AES256", "aws:kms", "aws:kms:dsse"}


def test_bucket_outlives_the_stack() -> None:
    bucket = RESOURCES["RenderBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_bucket_policy_denies_every_request_without_tls() -> None:
    policy = only("AWS::S3::BucketPolicy")["Properties"]
    assert policy["Bucket"] == {"Ref": "RenderBucket"}
    deny = [
        s
        for s in as_list(policy["PolicyDocument"]["Statement"])
        if s["Effect"] == "Deny"
        and str(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
    ]
    assert len(deny) == 1
    assert deny[0]["Principal"] == "*" and as_list(deny[0]["Action"]) == ["s3:*"]
    resources = as_list(deny[0]["Resource"])
    assert {"Fn::GetAtt": ["RenderBucket", "Arn"]} in resources
    assert {"Fn::Sub": "${RenderBucket.Arn}/*"} in resources


def test_intermediates_expire_after_seven_days() -> None:
    rules = props("RenderBucket")["LifecycleConfiguration"]["Rules"]
    renders = [r for r in rules if r.get("Prefix") == "renders/" and r["Status"] == "Enabled"]
    assert [r.get("ExpirationInDays") for r in renders] == [7]


def test_no_lifecycle_rule_can_expire_final_outputs() -> None:
    expiring_keys = {"ExpirationInDays", "ExpirationDate", "NoncurrentVersionExpiration", "Transitions"}
    for rule in props("RenderBucket")["LifecycleConfiguration"]["Rules"]:
        if expiring_keys & set(rule):
            # A rule without a prefix would apply to outputs/ as well.
            assert str(rule.get("Prefix", "")).startswith("renders/"), rule["Id"]


# ----------------------------------------------------------------------------------------- IAM


@pytest.mark.parametrize(
    ("role", "star_resource_actions"),
    [
        ("RenderFunctionRole", {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}),
        (
            "StateMachineRole",
            {
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            },
        ),
    ],
)
def test_roles_grant_no_wildcard_actions_and_star_resources_only_where_unavoidable(
    role: str, star_resource_actions: set[str]
) -> None:
    for statement in statements(role):
        assert statement["Effect"] == "Allow"
        actions = as_list(statement["Action"])
        assert all("*" not in action for action in actions), statement
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= star_resource_actions, statement


def test_function_role_touches_only_its_bucket_and_its_log_group() -> None:
    for statement in statements("RenderFunctionRole"):
        actions = as_list(statement["Action"])
        if any(a.startswith("s3:") for a in actions):
            assert set(actions) <= {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket"}
            assert all(refers_to(r, "RenderBucket") for r in as_list(statement["Resource"])), statement
        if any(a.startswith("logs:") for a in actions):
            assert set(actions) <= {"logs:CreateLogStream", "logs:PutLogEvents"}
            assert all(refers_to(r, "RenderFunctionLogGroup") for r in as_list(statement["Resource"]))


def test_state_machine_role_invokes_only_the_render_function() -> None:
    invoke = [s for s in statements("StateMachineRole") if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert len(invoke) == 1
    assert all(refers_to(r, "RenderFunction") for r in as_list(invoke[0]["Resource"]))
    lambda_actions = {
        a for s in statements("StateMachineRole") for a in as_list(s["Action"]) if a.startswith("lambda:")
    }
    assert lambda_actions == {"lambda:InvokeFunction"}


def test_state_machine_role_may_start_only_its_own_executions() -> None:
    own_name = state_machine()["StateMachineName"]["Fn::Sub"]
    for statement in statements("StateMachineRole"):
        if any(a.startswith("states:") for a in as_list(statement["Action"])):
            resource = statement["Resource"]["Fn::Sub"]
            assert re.search(rf":(stateMachine|execution|mapRun):{re.escape(own_name)}(/\*)?$", resource), resource


# ------------------------------------------------------------------------------------ function


def test_function_runs_the_image_with_tracing_and_the_bucket_allowlist() -> None:
    fn = props("RenderFunction")
    assert fn["PackageType"] == "Image"
    assert fn["Code"] == {"ImageUri": {"Ref": "ImageUri"}}
    assert fn["TracingConfig"] == {"Mode": "Active"}
    assert fn["Environment"]["Variables"]["FRAMECAST_BUCKET_ALLOWLIST"] == {"Ref": "RenderBucket"}
    assert fn["Architectures"] == [{"Ref": "Architecture"}]
    assert fn["MemorySize"] == {"Ref": "MemorySize"}
    assert fn["Timeout"] == {"Ref": "Timeout"}
    assert fn["EphemeralStorage"] == {"Size": {"Ref": "EphemeralStorage"}}
    assert fn["LoggingConfig"]["LogGroup"] == {"Ref": "RenderFunctionLogGroup"}


def test_reserved_concurrency_is_optional() -> None:
    assert T["Parameters"]["ReservedConcurrency"]["Default"] == ""
    assert T["Conditions"]["HasReservedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, ""]}]
    }
    assert props("RenderFunction")["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }


@pytest.mark.parametrize(
    ("parameter", "default"),
    [("MemorySize", 10240), ("Timeout", 900), ("EphemeralStorage", 10240), ("Architecture", "x86_64")],
)
def test_parameter_defaults(parameter: str, default: object) -> None:
    assert T["Parameters"][parameter]["Default"] == default


def test_architecture_is_x86_64_or_arm64() -> None:
    assert T["Parameters"]["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]


def test_every_log_group_has_the_configured_retention() -> None:
    groups = of_type("AWS::Logs::LogGroup")
    assert len(groups) == 2
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())


# ------------------------------------------------------------------------------- state machine


def test_state_machine_is_standard_traced_and_logs_errors() -> None:
    sm = state_machine()
    assert sm["StateMachineType"] == "STANDARD"
    assert sm["TracingConfiguration"] == {"Enabled": True}
    logging = sm["LoggingConfiguration"]
    assert logging["Level"] == "ERROR"
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["StateMachineLogGroup", "Arn"]}}}
    ]


def test_whole_execution_times_out_after_an_hour() -> None:
    assert state_machine()["Definition"]["TimeoutSeconds"] == 3600


def test_definition_is_an_object_and_every_substitution_is_declared() -> None:
    sm = state_machine()
    assert isinstance(sm["Definition"], dict)
    assert "DefinitionString" not in sm
    declared = set(sm["DefinitionSubstitutions"])
    used = set(re.findall(r"\$\{(\w+)\}", str(sm["Definition"])))
    assert used == declared
    assert sm["DefinitionSubstitutions"]["RenderFunctionArn"] == {"Fn::GetAtt": ["RenderFunction", "Arn"]}
    assert sm["DefinitionSubstitutions"]["RenderBucketName"] == {"Ref": "RenderBucket"}
    load_definition(TEMPLATE, {name: "x" for name in declared})


def test_flow_is_validate_plan_assert_map_assemble() -> None:
    s = states()
    assert state_machine()["Definition"]["StartAt"] == "ValidateInput"
    validate = s["ValidateInput"]
    assert validate["Default"] == "Plan"
    checked = {rule["Not"]["Variable"] for rule in validate["Choices"][0]["Or"]}
    assert checked == {"$.ProjectS3Uri", "$.OutputS3Uri", "$.RenderId", "$.Config"}
    assert s[validate["Choices"][0]["Next"]]["Error"] == "INVALID_EVENT"
    assert s["Plan"]["Next"] == "AssertChunkCount"
    choice = s["AssertChunkCount"]
    assert choice["Type"] == "Choice"
    zero, wide = choice["Choices"]
    assert (zero["Variable"], zero["NumericLessThanEquals"]) == ("$.Plan.ChunkCount", 0)
    assert s[zero["Next"]] == {"Type": "Fail", "Error": "CHUNK_COUNT_ZERO", "Cause": s[zero["Next"]]["Cause"]}
    inline, distributed = s[choice["Default"]], s[wide["Next"]]
    # Past what an inline Map runs at once, the Distributed Map takes over.
    assert wide["NumericGreaterThan"] == inline["MaxConcurrency"] == 40
    assert inline["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert distributed["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert 0 < distributed["MaxConcurrency"] <= 1000
    assert inline["Next"] == distributed["Next"] == "Assemble"
    # After Assemble only the optional completion webhook runs (tests/unit/test_webhook_template.py).
    assert s["Assemble"]["Next"] == "WebhookRequested"


def test_every_task_invokes_the_render_function_and_trims_its_result() -> None:
    tasks = [st for st in _all_states(states()) if st["Type"] == "Task"]
    assert len(tasks) == 5  # plan, the two chunk Maps' tasks, assemble, notify
    for task in tasks:
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        assert task["Parameters"]["FunctionName"] == "${RenderFunctionArn}"
        # The raw lambda:invoke result carries headers and status; keep history events small.
        assert "ResultSelector" in task
        assert all(str(v).startswith("$") for v in _leaves(task["ResultSelector"]))


def test_each_action_has_its_task() -> None:
    s = states()
    assert s["Plan"]["Parameters"]["Payload"]["Action"] == "plan"
    assert s["Assemble"]["Parameters"]["Payload"]["Action"] == "assemble"
    for name in ("RenderChunks", "RenderChunksDistributed"):
        assert s[name]["ItemSelector"]["Action"] == "renderChunk"


# --------------------------------------------------------------------------------------- alarms


def alarm_on(metric: str) -> dict[str, Any]:
    found = [
        a["Properties"] for a in of_type("AWS::CloudWatch::Alarm").values() if a["Properties"]["MetricName"] == metric
    ]
    assert len(found) == 1, metric
    return found[0]


@pytest.mark.parametrize(
    ("metric", "namespace", "target"),
    [
        ("Invocations", "AWS/Lambda", "RenderFunction"),
        ("Errors", "AWS/Lambda", "RenderFunction"),
        ("Throttles", "AWS/Lambda", "RenderFunction"),
        ("ExecutionsFailed", "AWS/States", "RenderStateMachine"),
        ("ExecutionsTimedOut", "AWS/States", "RenderStateMachine"),
    ],
)
def test_alarm_watches_the_stack_resources_and_notifies_only_when_an_email_is_set(
    metric: str, namespace: str, target: str
) -> None:
    alarm = alarm_on(metric)
    assert alarm["Namespace"] == namespace
    assert [d["Value"] for d in alarm["Dimensions"]] == [{"Ref": target}]
    assert alarm["AlarmActions"] == {"Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]}


def test_runaway_alarm_threshold_is_a_parameter() -> None:
    alarm = alarm_on("Invocations")
    assert alarm["Threshold"] == {"Ref": "InvocationAlarmThreshold"}
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Sum", "GreaterThanThreshold")


def test_alarm_topic_exists_only_with_an_email() -> None:
    topic = only("AWS::SNS::Topic")
    assert topic["Condition"] == "HasAlarmEmail"
    assert topic["Properties"]["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}]
    assert T["Parameters"]["AlarmEmail"]["Default"] == ""


# ----------------------------------------------------------------------------- names, tags, outputs


def test_every_explicit_name_derives_from_the_stack_name() -> None:
    for name, resource in RESOURCES.items():
        for prop in NAME_PROPERTIES & set(resource.get("Properties", {})):
            value = resource["Properties"][prop]
            assert "${AWS::StackName}" in value.get("Fn::Sub", ""), f"{name}.{prop} = {value}"
    assert "BucketName" not in props("RenderBucket")


def test_every_taggable_resource_carries_the_project_cost_tag() -> None:
    for name, resource in RESOURCES.items():
        if resource["Type"] in TAGGABLE:
            assert {"Key": "Project", "Value": {"Ref": "ProjectName"}} in resource["Properties"].get("Tags", []), name
    assert T["Parameters"]["ProjectName"]["Default"] == "framecast"


@pytest.mark.parametrize("output", ["BucketName", "FunctionName", "FunctionArn", "StateMachineArn"])
def test_output_is_exported_under_the_stack_name(output: str) -> None:
    assert T["Outputs"][output]["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{output}"}


def test_template_deploys_without_an_artifact_bucket() -> None:
    # `aws cloudformation deploy` uploads templates over 51,200 bytes to S3 and then needs --s3-bucket.
    assert TEMPLATE.stat().st_size < 51_200


def test_no_sam_transform() -> None:
    assert "Transform" not in T


def _all_states(states_: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for state in states_.values():
        found.append(state)
        if "ItemProcessor" in state:
            found.extend(_all_states(state["ItemProcessor"]["States"]))
    return found


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    return [value]
