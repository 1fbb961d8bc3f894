#!/usr/bin/env bash
# Build the framecast Lambda image, push it to ECR and deploy infra/template.yaml as one stack.
#
#   scripts/deploy.sh --stack NAME [--region R] [--tag T] [--alarm-email E] [--arch x86_64|arm64] [--dry-run]
#
#   --stack NAME        CloudFormation stack; every resource name derives from it (1-48 characters:
#                       letters, digits, hyphens, starting with a letter)
#   --region R          AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, then `aws configure`)
#   --tag T             image tag (default: UTC time plus the git commit)
#   --alarm-email E     send alarms to this address (SNS; confirm the subscription mail)
#   --arch A            x86_64 (default) or arm64; the image is built for the same platform
#   --dry-run           run only the read-only checks and print, in order, every command that would
#                       change something, without running it
#
# Safe to re-run: the ECR repository is created only when missing, the function image is pinned by
# digest (so each push updates the function), and an unchanged stack is not an error.
#
# Exit codes: 0 deployed (or planned, with --dry-run), 2 bad arguments, 3 AWS CLI missing,
# 4 no usable AWS credentials, 5 Docker missing or its engine unreachable, 6 image build or push
# failed, 7 CloudFormation deploy failed.
set -euo pipefail

script_dir="${BASH_SOURCE[0]%/*}"
[[ "$script_dir" == "${BASH_SOURCE[0]}" ]] && script_dir=.
ROOT_DIR="$(cd "$script_dir/.." && pwd)"
TEMPLATE="infra/template.yaml"

STACK=""
REGION=""
TAG=""
ALARM_EMAIL=""
ARCH="x86_64"
DRY_RUN=0

log() { printf 'deploy: %s\n' "$*" >&2; }
die() {
  local code="$1"
  shift
  printf 'deploy: ERROR: %s\n' "$*" >&2
  exit "$code"
}
usage() {
  local line
  while IFS= read -r line; do
    [[ "$line" == "#!"* ]] && continue
    [[ "$line" == "#"* ]] || break
    line="${line#\#}"
    printf '%s\n' "${line# }"
  done <"${BASH_SOURCE[0]}"
}

# One printable, copy-pasteable line per command.
quoted() {
  local out="" arg
  for arg in "$@"; do out+="$(printf '%q' "$arg") "; done
  printf '%s' "${out% }"
}

# Run a command that changes something, or only print it with --dry-run.
run() {
  if ((DRY_RUN)); then
    printf '+ %s\n' "$(quoted "$@")"
  else
    "$@"
  fi
}
run_quietly() {
  if ((DRY_RUN)); then
    run "$@"
  else
    "$@" >/dev/null
  fi
}

value_of() {
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die 2 "$1 needs a value (see --help)"
  printf '%s' "$2"
}

while (($#)); do
  case "$1" in
    --stack) STACK="$(value_of "$@")"; shift 2 ;;
    --region) REGION="$(value_of "$@")"; shift 2 ;;
    --tag) TAG="$(value_of "$@")"; shift 2 ;;
    --alarm-email) ALARM_EMAIL="$(value_of "$@")"; shift 2 ;;
    --arch) ARCH="$(value_of "$@")"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die 2 "unknown argument '$1' (see --help)" ;;
  esac
done

[[ -n "$STACK" ]] || die 2 "--stack NAME is required (see --help)"
# IAM role names ("<stack>-render-function") cap at 64 characters.
[[ "$STACK" =~ ^[A-Za-z][A-Za-z0-9-]{0,47}$ ]] ||
  die 2 "stack name '$STACK' must be 1-48 letters, digits or hyphens, starting with a letter"
case "$ARCH" in
  x86_64) PLATFORM="linux/amd64" ;;
  arm64) PLATFORM="linux/arm64" ;;
  *) die 2 "--arch must be x86_64 or arm64, not '$ARCH'" ;;
esac
[[ -z "$ALARM_EMAIL" || "$ALARM_EMAIL" =~ ^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$ ]] ||
  die 2 "--alarm-email '$ALARM_EMAIL' is not an e-mail address"
if [[ -z "$TAG" ]]; then
  TAG="$(date -u +%Y%m%d-%H%M%S)"
  if command -v git >/dev/null 2>&1 && sha="$(git -C "$ROOT_DIR" rev-parse --short=12 HEAD 2>/dev/null)"; then
    TAG="$TAG-$sha"
  fi
fi
[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die 2 "--tag '$TAG' is not a valid image tag"

# ------------------------------------------------------------------------------------- preflight
command -v aws >/dev/null 2>&1 ||
  die 3 "the AWS CLI ('aws') is not on PATH; install AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and retry"
if [[ -z "$REGION" ]]; then
  REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}"
fi
[[ -n "$REGION" ]] || die 2 "no AWS region: pass --region or set AWS_REGION"
if ! ACCOUNT_ID="$(aws sts get-caller-identity --region "$REGION" --query Account --output text 2>/dev/null)"; then
  die 4 "no usable AWS credentials ('aws sts get-caller-identity' failed); run 'aws configure' or 'aws sso login', or set AWS_PROFILE, then retry"
fi
[[ "$ACCOUNT_ID" =~ ^[0-9]{12}$ ]] ||
  die 4 "'aws sts get-caller-identity' returned '$ACCOUNT_ID' instead of a 12-digit account id"
log "account $ACCOUNT_ID, region $REGION, stack $STACK"

command -v docker >/dev/null 2>&1 ||
  die 5 "the Docker CLI ('docker') is not on PATH; install Docker (https://docs.docker.com/engine/install/) and retry"
if ! docker info >/dev/null 2>&1; then
  ((DRY_RUN)) || die 5 "the Docker engine is not reachable ('docker info' failed); start Docker or set DOCKER_HOST, then retry"
  log "WARNING: the Docker engine is not reachable; a real deploy would stop here (exit 5)"
fi
if [[ ! -f "$ROOT_DIR/Dockerfile" ]]; then
  ((DRY_RUN)) || die 6 "no Dockerfile at $ROOT_DIR/Dockerfile"
  log "WARNING: no Dockerfile at $ROOT_DIR/Dockerfile; a real deploy would stop here (exit 6)"
fi

STACK_LC="${STACK,,}" # ECR repository names are lower case
REPOSITORY="framecast-$STACK_LC"
DOMAIN="amazonaws.com"
[[ "$REGION" == cn-* ]] && DOMAIN="amazonaws.com.cn"
REGISTRY="$ACCOUNT_ID.dkr.ecr.$REGION.$DOMAIN"
IMAGE="$REGISTRY/$REPOSITORY:$TAG"

# ------------------------------------------------------------------------------ build and push
cd "$ROOT_DIR"
log "building $IMAGE for $PLATFORM"
# Lambda accepts only a single-platform image manifest: no provenance attestation index.
run docker build --platform "$PLATFORM" --provenance=false -t "$IMAGE" -f Dockerfile . ||
  die 6 "docker build failed"

if aws ecr describe-repositories --region "$REGION" --repository-names "$REPOSITORY" >/dev/null 2>&1; then
  log "ECR repository $REPOSITORY exists"
else
  run_quietly aws ecr create-repository --region "$REGION" --repository-name "$REPOSITORY" \
    --image-scanning-configuration scanOnPush=true --tags Key=Project,Value=framecast ||
    die 6 "could not create the ECR repository $REPOSITORY"
fi

if ((DRY_RUN)); then
  printf '+ %s | %s\n' "$(quoted aws ecr get-login-password --region "$REGION")" \
    "$(quoted docker login --username AWS --password-stdin "$REGISTRY")"
elif ! aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY" >/dev/null; then
  die 6 "docker login to $REGISTRY failed"
fi

run docker push "$IMAGE" || die 6 "docker push $IMAGE failed"

# Pin by digest: a tag CloudFormation has seen before would not update the function.
if ((DRY_RUN)); then
  printf '+ %s\n' "$(quoted aws ecr describe-images --region "$REGION" --repository-name "$REPOSITORY" \
    --image-ids "imageTag=$TAG" --query 'imageDetails[0].imageDigest' --output text)"
  DIGEST="sha256:<digest-of-$TAG>"
else
  DIGEST="$(aws ecr describe-images --region "$REGION" --repository-name "$REPOSITORY" \
    --image-ids "imageTag=$TAG" --query 'imageDetails[0].imageDigest' --output text)" ||
    die 6 "could not read the digest of $IMAGE"
  [[ "$DIGEST" == sha256:* ]] || die 6 "unexpected digest '$DIGEST' for $IMAGE"
fi
IMAGE_URI="$REGISTRY/$REPOSITORY@$DIGEST"

# ---------------------------------------------------------------------------------- deploy
PARAMETERS=("ImageUri=$IMAGE_URI" "Architecture=$ARCH")
[[ -n "$ALARM_EMAIL" ]] && PARAMETERS+=("AlarmEmail=$ALARM_EMAIL")
log "deploying $TEMPLATE as stack $STACK"
run aws cloudformation deploy --region "$REGION" --stack-name "$STACK" --template-file "$TEMPLATE" \
  --capabilities CAPABILITY_NAMED_IAM --no-fail-on-empty-changeset \
  --parameter-overrides "${PARAMETERS[@]}" ||
  die 7 "CloudFormation deploy failed; see: aws cloudformation describe-stack-events --region $REGION --stack-name $STACK"

run aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK" \
  --query 'Stacks[0].Outputs' --output table ||
  log "WARNING: the stack is deployed but its outputs could not be read"
((DRY_RUN)) && log "dry run: nothing was changed"
exit 0
