#!/usr/bin/env bash
# Build the framecast Lambda image, push it to ECR and deploy infra/template.yaml as one stack.
#
#   scripts/deploy.sh --stack NAME [--region R] [--profile P] [--image-uri URI] [--memory MB]
#                     [--concurrency N] [--timeout S] [--arch x86_64|arm64] [--tag T] [--alarm-email E] [--json]
#
# A thin caller of `framecast lambda deploy` (the one implementation; see its --help): every
# argument is passed through unchanged, and its exit code is this script's (0 deployed or already up
# to date, 2 bad input such as a missing --stack or no AWS credentials, 1 a failure on AWS or in the
# image build). Uses `framecast` from PATH, else this checkout's `python3 -m app.cli.main`.
set -euo pipefail

script_dir="${BASH_SOURCE[0]%/*}"
[[ "$script_dir" == "${BASH_SOURCE[0]}" ]] && script_dir=.
ROOT_DIR="$(cd "$script_dir/.." && pwd)"

if command -v framecast >/dev/null 2>&1; then
  exec framecast lambda deploy "$@"
fi
# The state file goes under the caller's folder (.framecast/stacks), so stay there.
export PYTHONPATH="$ROOT_DIR${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" -m app.cli.main lambda deploy "$@"
