"""``framecast lambda`` end to end through the CLI against moto: the REAL template, state machine and handler.

One moto server (tests.support.moto_stack) per module: ``lambda deploy --image-uri`` creates the stack
from infra/template.yaml through change sets, ``render --backend lambda`` starts executions of the real
definition whose Lambda invokes run app.aws.handler in a fresh interpreter each. The tests run in file
order (``--dist loadfile``): deploy first, destroy last.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest

from app.cli.main import main
from app.cloud import renders, session
from tests.support.moto_stack import IMAGE_URI, MotoStack, moto_stack_server

pytestmark = [
    pytest.mark.chrome,
    # moto's server thread warns about the resources it skips (BucketPolicy, Alarm): not errors here.
    pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "fixtures" / "tiny"  # 320x180, 1 s at 30 fps
STACK = "e2e"
RENDER_ID = re.compile(r"^r-\d{8}-\d{6}-[0-9a-f]{6}$")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoStack]:
    home = tmp_path_factory.mktemp("lambda-client")
    with moto_stack_server() as stack, pytest.MonkeyPatch.context() as patch:
        for name, value in stack.env().items():
            patch.setenv(name, value)
        patch.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("FRAMECAST_STATE_DIR", str(home / "stacks"))
        session._cached.cache_clear()
        yield stack
        session._cached.cache_clear()


@pytest.fixture
def cli(moto: MotoStack, capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, " ".join(captured.err.split()))

    return run


def _executions(moto: MotoStack) -> int:
    sfn = moto.client("stepfunctions")
    machines = sfn.list_state_machines()["stateMachines"]
    return sum(len(sfn.list_executions(stateMachineArn=m["stateMachineArn"])["executions"]) for m in machines)


def _stacks(moto: MotoStack) -> list[str]:
    summaries = moto.client("cloudformation").list_stacks()["StackSummaries"]
    return sorted(s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE")


def _keys(moto: MotoStack, bucket: str, prefix: str) -> list[str]:
    listed = moto.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def _frames(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height, sum(1 for _ in container.decode(stream))


def _state(moto: MotoStack) -> dict[str, Any]:
    return dict(json.loads((Path(os.environ["FRAMECAST_STATE_DIR"]) / f"{STACK}.json").read_text()))


def test_deploy_with_an_image_uri_creates_the_stack_and_records_it(cli: Any, moto: MotoStack) -> None:
    run = cli("lambda", "deploy", "--stack", STACK, "--image-uri", IMAGE_URI, "--memory", "4096", "--json")

    assert run.code == 0, run.err
    result = run.json()
    assert (result["created"], result["changed"]) == (True, True)
    state = _state(moto)
    assert state["image_uri"] == IMAGE_URI and state["image_digest"] == "sha256:" + "ab" * 32
    assert state["memory_mb"] == 4096 and state["region"] == "us-east-1"
    stack = moto.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["BucketName"] == state["bucket"] and outputs["StateMachineArn"] == state["state_machine_arn"]
    function = moto.client("lambda").get_function(FunctionName=state["function_name"])["Configuration"]
    assert function["MemorySize"] == 4096

    again = cli("lambda", "deploy", "--stack", STACK, "--image-uri", IMAGE_URI, "--memory", "4096")
    assert again.code == 0, again.err
    assert "no changes" in again.err and "unchanged" in again.err


def test_render_wait_downloads_a_video_with_the_local_frame_count(cli: Any, moto: MotoStack, tmp_path: Path) -> None:
    local = tmp_path / "local.mp4"
    assert cli("render", str(TINY), "-o", str(local)).code == 0
    out = tmp_path / "lambda" / "tiny.mp4"

    args = ("--backend", "lambda", "--stack", STACK, "--max-parallel-chunks", "3", "--wait", "-o", str(out))
    run = cli("render", str(TINY), *args)

    assert run.code == 0, run.err
    render_id = re.search(r"render (r-\S+) started", run.err)
    assert render_id and RENDER_ID.match(render_id.group(1))
    assert _frames(out) == _frames(local) == (320, 180, 30)
    assert "30 frames" in run.err and "3 chunks on Lambda" in run.err and "cost $" in run.err
    assert [action for action, _ in moto.invocations].count("renderChunk") == 3

    progress = cli("lambda", "progress", render_id.group(1), "--stack", STACK, "--json")
    assert progress.code == 0, progress.err
    doc = progress.json()
    assert (doc["status"], doc["chunks_done"], doc["chunk_count"], doc["frames_done"], doc["percent"]) == (
        "SUCCEEDED",
        3,
        3,
        30,
        100.0,
    )
    assert len(doc["invocations"]) == 5 and doc["cost"]["lambda_requests"] == 5 and doc["cost"]["total_usd"] > 0

    site = cli("lambda", "sites", "create", str(TINY), "--stack", STACK, "--json")
    assert site.code == 0 and site.json()["uploaded"] is False, "the render uploaded this exact site already"


def test_progress_and_cancel_on_a_running_render(cli: Any, moto: MotoStack) -> None:
    moto.hold({"renderChunk"})
    try:
        started = cli("render", str(TINY), "--backend", "lambda", "--stack", STACK, "--chunks", "2", "--json")
        assert started.code == 0, started.err
        render_id = started.json()["render_id"]
        bucket = _state(moto)["bucket"]
        doc: dict[str, Any] = {}
        for _ in range(120):  # the plan runs for real; the chunks are held
            doc = cli("lambda", "progress", render_id, "--stack", STACK, "--json").json()
            if doc["chunk_count"] is not None:
                break
        assert (doc["status"], doc["chunk_count"], doc["chunks_done"], doc["percent"]) == ("RUNNING", 2, 0, 5.0)
        human = cli("lambda", "progress", render_id, "--stack", STACK)
        assert f"render {render_id} on stack {STACK}: RUNNING 5%" in human.out and "chunks 0/2" in human.out
        assert _keys(moto, bucket, f"renders/{render_id}/plan/"), "the plan's intermediates exist before cancel"
        outputs_before = _keys(moto, bucket, "outputs/")
        invocations_before = len(moto.invocations)

        cancelled = cli("lambda", "cancel", render_id, "--stack", STACK, "--json")

        assert cancelled.code == 0, cancelled.err
        assert cancelled.json()["stopped"] is True and cancelled.json()["intermediates_deleted"] > 0
        assert _keys(moto, bucket, f"renders/{render_id}/") == []
        assert _keys(moto, bucket, "outputs/") == outputs_before, "outputs are kept"
    finally:
        moto.release()
    # moto's interpreter acts on the stop only once the held invocations return, and an execution stopped
    # inside a Map then ends FAILED there (AWS: ABORTED at once). Either way it never gets to Assemble.
    statuses = [cli("lambda", "progress", render_id, "--stack", STACK, "--json").json()["status"] for _ in range(3)]
    for _ in range(100):
        if statuses[-1] != "RUNNING":
            break
        statuses.append(cli("lambda", "progress", render_id, "--stack", STACK, "--json").json()["status"])
    assert statuses[-1] in {"ABORTED", "FAILED"}, statuses
    assert "assemble" not in [action for action, _ in moto.invocations[invocations_before:]]
    assert _keys(moto, bucket, f"renders/{render_id}/chunks/") == [], "no chunk ran after the cancel"


def test_a_typed_error_in_a_chunk_fails_the_render_with_its_code(cli: Any, moto: MotoStack, tmp_path: Path) -> None:
    # The real handler refuses every S3 URI outside its allowlist: S3_URI_NOT_ALLOWED, non-retryable.
    moto.action_env["renderChunk"] = {"FRAMECAST_BUCKET_ALLOWLIST": "some-other-bucket"}
    out = tmp_path / "failed.mp4"
    try:
        args = ("--backend", "lambda", "--stack", STACK, "--chunks", "2", "--wait", "-o", str(out))
        run = cli("render", str(TINY), *args)
    finally:
        moto.action_env.clear()

    assert run.code == 1, run.err
    assert "S3_URI_NOT_ALLOWED: render r-" in run.err and "FAILED" in run.err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_ctrl_c_while_waiting_leaves_the_render_running_and_says_how_to_follow_or_cancel(
    cli: Any, moto: MotoStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto.hold()
    real_get_progress = renders.get_progress
    interrupted = threading.Event()

    def ctrl_c_on_first_poll(*args: Any, **kwargs: Any) -> Any:
        # Ctrl+C once the CLI is following the render (a timer would race the upload on a loaded machine).
        progress = real_get_progress(*args, **kwargs)
        if not interrupted.is_set():
            interrupted.set()
            os.kill(os.getpid(), signal.SIGINT)
        return progress

    monkeypatch.setattr(renders, "get_progress", ctrl_c_on_first_poll)
    try:
        run = cli("render", str(TINY), "--backend", "lambda", "--stack", STACK, "--wait", "-o", str(tmp_path / "x.mp4"))
        render_id = re.search(r"render (r-\S+) started", run.err)
        assert render_id, run.err
        assert run.code == 130
        assert "still running on AWS" in run.err
        assert f"framecast lambda progress {render_id.group(1)} --stack {STACK}" in run.err
        assert f"framecast lambda cancel {render_id.group(1)} --stack {STACK}" in run.err
        assert cli("lambda", "progress", render_id.group(1), "--stack", STACK, "--json").json()["status"] == "RUNNING"
        assert cli("lambda", "cancel", render_id.group(1), "--stack", STACK).code == 0
    finally:
        moto.release()
    assert interrupted.is_set()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("lambda", "progress", "r-20261202-000000-abcdef", "--stack", "nope"), "STACK_NOT_FOUND", "known stacks: e2e"),
        (("lambda", "progress", "bad id!", "--stack", STACK), "RENDER_ID_INVALID", "'bad id!'"),
        (("lambda", "progress", "r-20261202-000000-abcdef", "--stack", STACK), "RENDER_NOT_FOUND", "no render"),
        (("lambda", "progress", "r-20261202-000000-abcdef", "--stack", STACK, "--region", "eu-west-1"),
         "REGION_MISMATCH", "deployed in us-east-1, not eu-west-1"),
        (("render", str(TINY), "--backend", "lambda", "--stack", STACK, "--region", "eu-west-1"),
         "REGION_MISMATCH", "pass --region us-east-1"),
        (("render", str(TINY), "--backend", "lambda", "--stack", "nope"), "STACK_NOT_FOUND", "framecast lambda deploy"),
        (("render", str(TINY), "--backend", "lambda", "--stack", STACK, "--fps", "121"), "INVALID_CONFIG", "fps"),
        (("render", str(TINY), "--backend", "lambda", "--stack", STACK, "--site-id", "s-" + "0" * 20),
         "SITE_NOT_FOUND", "sites ls"),
        (("lambda", "deploy", "--stack", "other", "--image-uri", IMAGE_URI.split("@")[0] + ":v1"),
         "IMAGE_NOT_FOUND", "push it first"),
        (("lambda", "deploy", "--stack", "9bad", "--image-uri", IMAGE_URI), "INVALID_INPUT", "1-48 letters"),
        (("render", str(TINY), "--backend", "lambda", "--stack", STACK, "--webhook", "ftp://user:pw@example.com/h"),
         "WEBHOOK_URL_INVALID", "webhook URL"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_a_clear_message_and_starts_nothing(
    cli: Any, moto: MotoStack, args: tuple[str, ...], code: str, needle: str
) -> None:
    before = (_executions(moto), _stacks(moto), _keys(moto, _state(moto)["bucket"], ""))

    run = cli(*args)

    assert run.code == 2, run.err
    assert f"{code}: " in run.err and needle in run.err, run.err
    assert (_executions(moto), _stacks(moto), _keys(moto, _state(moto)["bucket"], "")) == before


def test_missing_credentials_say_how_to_set_them_and_start_nothing(
    cli: Any, moto: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _executions(moto)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    session._cached.cache_clear()
    try:
        run = cli("render", str(TINY), "--backend", "lambda", "--stack", STACK, "--wait")
    finally:
        session._cached.cache_clear()

    assert run.code == 2, run.err
    assert run.err.startswith("AWS_CREDENTIALS_MISSING: ") and "AWS_ACCESS_KEY_ID" in run.err and "--profile" in run.err
    assert _executions(moto) == before


def test_destroy_deletes_the_stack_and_state_file_and_keeps_the_bucket(cli: Any, moto: MotoStack) -> None:
    bucket = _state(moto)["bucket"]
    outputs = _keys(moto, bucket, "outputs/")
    assert outputs, "the earlier render left its output"
    refused = cli("lambda", "destroy", "--stack", STACK, "--delete-bucket")
    assert refused.code == 2 and "add --yes to confirm" in refused.err
    assert _stacks(moto) == [STACK] and _keys(moto, bucket, "outputs/") == outputs

    run = cli("lambda", "destroy", "--stack", STACK)

    assert run.code == 0, run.err
    assert "kept" in run.err
    assert not any(s["StackName"] == STACK for s in moto.client("cloudformation").list_stacks()["StackSummaries"]
                   if s["StackStatus"] != "DELETE_COMPLETE")  # fmt: skip
    assert _keys(moto, bucket, "outputs/") == outputs
    gone = cli("lambda", "progress", "r-20261202-000000-abcdef", "--stack", STACK)
    assert gone.code == 2 and gone.err.startswith("STACK_NOT_FOUND: ")
