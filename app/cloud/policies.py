"""The IAM permissions ``framecast lambda`` needs: ONE list of grants, printed as a policy or checked against one.

``GRANTS`` is the single source: each grant names its actions, the resources they are limited to
(patterns of the stack name) and what needs it: a verb (``deploy``, ``render``, ``progress``,
``cancel``, ``destroy``, ``sites``, ``webhook-secret``) or a CloudFormation resource type that deploy and
destroy make CloudFormation create, update and delete with the caller's permissions. Two tests keep
it honest: every boto3 call (and ``aws_call`` operation) under app/cloud is covered by an action here,
and every resource type in infra/template.yaml has its grant.

``user_policy`` is the least-privilege identity policy; ``role_policy`` the same permissions as a role
(trust policy + permissions); ``check_policy`` reports which required actions a policy does not allow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from app.errors import PolicyInvalidError

VERBS: Final = ("deploy", "render", "progress", "cancel", "destroy", "sites", "webhook-secret")
POLICY_VERSION: Final = "2012-10-17"
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/:-]+$")


class Grant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]  # {stack} and {stack_lower} are filled in by the policy builders
    needed_by: tuple[str, ...]  # verbs and CloudFormation resource types


def _g(sid: str, actions: str, resources: Iterable[str], needed_by: str) -> Grant:
    return Grant(
        sid=sid, actions=tuple(actions.split()), resources=tuple(resources), needed_by=tuple(needed_by.split())
    )


_STACK = "arn:aws:cloudformation:*:*:stack/{stack}/*"
_BUCKET = "arn:aws:s3:::{stack_lower}-renderbucket-*"  # CloudFormation names it <stack>-<logical id>-<random>
_MACHINE = "arn:aws:states:*:*:stateMachine:{stack}-render"
_EXECUTIONS = "arn:aws:states:*:*:execution:{stack}-render:*"
_STAR = "*"

GRANTS: Final[tuple[Grant, ...]] = (
    _g("CallerIdentity", "sts:GetCallerIdentity", [_STAR], "deploy"),
    _g(
        "Stack",
        "cloudformation:CreateChangeSet cloudformation:DescribeChangeSet cloudformation:DeleteChangeSet "
        "cloudformation:ExecuteChangeSet cloudformation:DescribeStacks cloudformation:DescribeStackEvents "
        "cloudformation:DeleteStack",
        [_STACK],
        "deploy destroy",
    ),
    # The registry login token is account-wide: ECR offers no resource for it.
    _g("RegistryLogin", "ecr:GetAuthorizationToken", [_STAR], "deploy"),
    _g(
        "ImageRepository",
        "ecr:DescribeRepositories ecr:CreateRepository ecr:TagResource ecr:DescribeImages "
        "ecr:BatchCheckLayerAvailability ecr:InitiateLayerUpload ecr:UploadLayerPart ecr:CompleteLayerUpload "
        "ecr:PutImage ecr:BatchGetImage ecr:GetDownloadUrlForLayer ecr:SetRepositoryPolicy ecr:GetRepositoryPolicy",
        ["arn:aws:ecr:*:*:repository/framecast-{stack_lower}"],
        "deploy AWS::Lambda::Function",
    ),
    _g(
        "RenderBucket",
        "s3:CreateBucket s3:DeleteBucket s3:ListBucket s3:PutEncryptionConfiguration s3:GetEncryptionConfiguration "
        "s3:PutBucketPublicAccessBlock s3:GetBucketPublicAccessBlock s3:PutBucketOwnershipControls "
        "s3:GetBucketOwnershipControls s3:PutLifecycleConfiguration s3:GetLifecycleConfiguration "
        "s3:PutBucketTagging s3:GetBucketTagging s3:PutBucketPolicy s3:GetBucketPolicy s3:DeleteBucketPolicy",
        [_BUCKET],
        "AWS::S3::Bucket AWS::S3::BucketPolicy render progress cancel destroy sites",
    ),
    _g(
        "RenderObjects",
        "s3:GetObject s3:PutObject s3:DeleteObject s3:AbortMultipartUpload",
        [_BUCKET + "/*"],
        "render progress cancel destroy sites",
    ),
    _g(
        "Roles",
        "iam:CreateRole iam:DeleteRole iam:GetRole iam:UpdateRole iam:UpdateAssumeRolePolicy iam:PutRolePolicy "
        "iam:DeleteRolePolicy iam:GetRolePolicy iam:ListRolePolicies iam:ListAttachedRolePolicies iam:TagRole "
        "iam:UntagRole iam:PassRole",
        ["arn:aws:iam::*:role/{stack}-render-*"],
        "AWS::IAM::Role",
    ),
    _g(
        "Function",
        "lambda:CreateFunction lambda:DeleteFunction lambda:GetFunction lambda:GetFunctionConfiguration "
        "lambda:UpdateFunctionCode lambda:UpdateFunctionConfiguration lambda:PutFunctionConcurrency "
        "lambda:DeleteFunctionConcurrency lambda:TagResource lambda:UntagResource lambda:ListTags "
        "lambda:AddPermission lambda:RemovePermission",
        ["arn:aws:lambda:*:*:function:{stack}-render"],
        "AWS::Lambda::Function AWS::Lambda::Permission",
    ),
    _g(
        "StateMachine",
        "states:CreateStateMachine states:DeleteStateMachine states:DescribeStateMachine states:UpdateStateMachine "
        "states:TagResource states:UntagResource states:ListTagsForResource states:StartExecution",
        [_MACHINE],
        "AWS::StepFunctions::StateMachine render",
    ),
    _g(
        "Executions",
        "states:DescribeExecution states:GetExecutionHistory states:StopExecution",
        [_EXECUTIONS],
        "render progress cancel",
    ),
    _g(
        "LogGroups",
        "logs:CreateLogGroup logs:DeleteLogGroup logs:PutRetentionPolicy logs:DeleteRetentionPolicy "
        "logs:TagResource logs:UntagResource logs:ListTagsForResource",
        [
            "arn:aws:logs:*:*:log-group:/aws/lambda/{stack}-render*",
            "arn:aws:logs:*:*:log-group:/aws/vendedlogs/states/{stack}-render*",
        ],
        "AWS::Logs::LogGroup",
    ),
    # State machine logging (log delivery) accepts no resource-level permissions.
    _g(
        "LogDelivery",
        "logs:CreateLogDelivery logs:GetLogDelivery logs:UpdateLogDelivery logs:DeleteLogDelivery "
        "logs:ListLogDeliveries logs:PutResourcePolicy logs:DescribeResourcePolicies logs:DescribeLogGroups",
        [_STAR],
        "AWS::StepFunctions::StateMachine",
    ),
    _g(
        "AlarmTopic",
        "sns:CreateTopic sns:DeleteTopic sns:GetTopicAttributes sns:SetTopicAttributes sns:Subscribe sns:Unsubscribe "
        "sns:TagResource sns:UntagResource sns:ListTagsForResource",
        ["arn:aws:sns:*:*:{stack}-alarms"],
        "AWS::SNS::Topic",
    ),
    _g(
        "Alarms",
        "cloudwatch:PutMetricAlarm cloudwatch:DeleteAlarms cloudwatch:DescribeAlarms cloudwatch:TagResource "
        "cloudwatch:UntagResource cloudwatch:ListTagsForResource",
        ["arn:aws:cloudwatch:*:*:alarm:{stack}-*"],
        "AWS::CloudWatch::Alarm",
    ),
    _g(
        "TimeoutRule",
        "events:PutRule events:DeleteRule events:DescribeRule events:PutTargets events:RemoveTargets "
        "events:ListTargetsByRule",
        ["arn:aws:events:*:*:rule/{stack}-TimeoutNotifyRule-*"],
        "AWS::Events::Rule",
    ),
    _g(
        "WebhookSecret",
        "secretsmanager:CreateSecret secretsmanager:DeleteSecret secretsmanager:DescribeSecret "
        "secretsmanager:UpdateSecret secretsmanager:TagResource secretsmanager:UntagResource "
        "secretsmanager:GetSecretValue",
        ["arn:aws:secretsmanager:*:*:secret:{stack}-webhook-secret-*"],
        "AWS::SecretsManager::Secret webhook-secret",
    ),
    # GenerateSecretString draws the secret with GetRandomPassword, which has no resource.
    _g("SecretGeneration", "secretsmanager:GetRandomPassword", [_STAR], "AWS::SecretsManager::Secret"),
)

# Operation names the client passes to ``aws_call`` (or boto3 methods) that are not themselves IAM actions.
OPERATION_ACTIONS: Final[dict[str, str]] = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:UploadFile": "s3:PutObject",
    "s3:DownloadFile": "s3:GetObject",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
}


def iam_action(operation: str) -> str:
    """The IAM action an API operation (``service:Operation``) is authorised by."""
    return OPERATION_ACTIONS.get(operation, operation)


def required_actions() -> list[str]:
    """Every action of ``GRANTS``, sorted, without duplicates."""
    return sorted({action for grant in GRANTS for action in grant.actions})


def actions_for(needed_by: str) -> list[str]:
    """The actions one verb or resource type needs."""
    return sorted({a for grant in GRANTS if needed_by in grant.needed_by for a in grant.actions})


def user_policy(stack: str = "*") -> dict[str, Any]:
    """The least-privilege identity policy for stack ``stack`` (``*``: any stack name)."""
    values = {"stack": stack, "stack_lower": stack.lower()}
    statements = [
        {
            "Sid": grant.sid,
            "Effect": "Allow",
            "Action": list(grant.actions),
            "Resource": [pattern.format(**values) for pattern in grant.resources],
        }
        for grant in GRANTS
    ]
    return {"Version": POLICY_VERSION, "Statement": statements}


def principal_arn(principal: str) -> str:
    """An account id becomes that account's root principal; an IAM/STS ARN is kept."""
    if _ACCOUNT_ID.match(principal):
        return f"arn:aws:iam::{principal}:root"
    if _PRINCIPAL_ARN.match(principal):
        return principal
    raise PolicyInvalidError(
        f"principal {principal[:80]!r} is neither a 12-digit account id nor an IAM ARN; "
        "pass e.g. --principal 123456789012 or --principal arn:aws:iam::123456789012:user/ci"
    )


def role_policy(principal: str, stack: str = "*") -> dict[str, Any]:
    """A role ``principal`` may assume, with the permissions of ``user_policy``."""
    trust = {
        "Version": POLICY_VERSION,
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal_arn(principal)}, "Action": "sts:AssumeRole"}],
    }
    name = "framecast-deployer" if stack == "*" else f"{stack}-framecast-deployer"
    return {"RoleName": name, "AssumeRolePolicyDocument": trust, "PolicyDocument": user_policy(stack)}
