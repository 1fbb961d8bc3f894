#!/usr/bin/env bash
# ENTRYPOINT of the framecast Lambda image. The image's CMD (or the function's ImageConfig.Command)
# names the handler, e.g. `app.aws.handler.handler`.
#
#   AWS_LAMBDA_RUNTIME_API set      inside Lambda: exec python -m awslambdaric HANDLER
#   unset, RIE binary present       local run: exec aws-lambda-rie python -m awslambdaric HANDLER
#                                   (the emulator serves POST :8080/2015-03-31/functions/function/invocations)
#   unset, no RIE binary            nothing can serve the Runtime API: say so and exit 1
#
# Every branch ends in `exec`, so the runtime (or the emulator) becomes PID 1 of the container and
# receives SIGTERM from Lambda / `docker stop` directly.
#
# FRAMECAST_RIE_BIN overrides where the emulator is looked for (tests point it at a stub).
set -euo pipefail

rie_bin="${FRAMECAST_RIE_BIN:-/usr/local/bin/aws-lambda-rie}"

if [ "$#" -eq 0 ]; then
  echo "lambda-entrypoint: no handler given; pass one as the command, e.g. app.aws.handler.handler" >&2
  exit 2
fi

# The emulator starts its bootstrap by file path, not through PATH, so resolve python to a path here
# and use that same path in every branch.
if ! python_bin="$(command -v python)"; then
  echo "lambda-entrypoint: no python on PATH ($PATH)" >&2
  exit 1
fi

if [ -n "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  exec "$python_bin" -m awslambdaric "$@"
fi

if [ -x "$rie_bin" ]; then
  exec "$rie_bin" "$python_bin" -m awslambdaric "$@"
fi

cat >&2 <<EOF
lambda-entrypoint: AWS_LAMBDA_RUNTIME_API is not set and the Lambda Runtime Interface Emulator is not
at $rie_bin, so nothing can deliver invocations to the handler.
  - in AWS Lambda this variable is always set: check that this is the image you deployed;
  - to run locally, build the image's "rie" stage (docker build --target rie, as docker-compose.yml
    does) or set FRAMECAST_RIE_BIN to an aws-lambda-rie binary;
  - to render without Lambda at all, use: framecast render PROJECT -o OUT
EOF
exit 1
