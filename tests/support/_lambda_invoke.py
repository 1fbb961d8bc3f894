"""One Lambda invocation in a fresh interpreter, as a cold Lambda container runs it (used by moto_stack).

    python -m tests.support._lambda_invoke RESULT_PATH < event.json

Runs ``app.aws.handler.handler`` on the event read from stdin and writes ``{"ok": true, "result": ...}``
or ``{"ok": false, "errorType": ..., "errorMessage": ...}`` (what awslambdaric reports) to RESULT_PATH:
stdout is the function's log stream, so the result never goes there.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace


def main() -> int:
    result_path = Path(sys.argv[1])
    event = json.load(sys.stdin)
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "framecast-render")
    context = SimpleNamespace(
        function_name=name,
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:123456789012:function:{name}",
        memory_limit_in_mb=os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "10240"),
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{name}",
        log_stream_name="moto-stack",
        get_remaining_time_in_millis=lambda: 900_000,
    )
    try:
        from app.aws.handler import handler

        outcome = {"ok": True, "result": handler(event, context)}
    except Exception as exc:
        outcome = {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}
    result_path.write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
