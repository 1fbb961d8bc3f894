"""Static contracts of the container files: Dockerfile, Dockerfile.test, .dockerignore,
docker-compose.yml and the CI workflow. No Docker engine runs here, so these files are checked by
reading them (and, where a snippet is shell or Python, by running or compiling that snippet).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = ("Dockerfile", "Dockerfile.test")
INSTALL_SCRIPT = "scripts/install-runtime.sh"
RIE_PATH = "/usr/local/bin/aws-lambda-rie"
RIE_RELEASES = "https://github.com/aws/aws-lambda-runtime-interface-emulator/releases/download/"
# Ways of installing Chrome, Node, ffmpeg or the page runtime that belong in install-runtime.sh only.
FOREIGN_INSTALLS = re.compile(
    r"apt-get\s+(-\S+\s+)*install|apt\s+install|dpkg\s+-i|npm\s+(ci|install|i)\b|yarn|pnpm"
    r"|playwright\s+install|imageio-ffmpeg|chromium|nodejs"
)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped (enough for these files)."""
    result: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1].strip())
            continue
        parts.append(line)
        keyword, _, args = " ".join(parts).partition(" ")
        result.append(Instruction(keyword.upper(), args.strip(), start))
        parts = []
    return result


def dockerfile(name: str) -> list[Instruction]:
    return parse_dockerfile((REPO_ROOT / name).read_text())


def of(instructions: list[Instruction], keyword: str) -> list[Instruction]:
    return [i for i in instructions if i.keyword == keyword]


def index_of(instructions: list[Instruction], keyword: str, needle: str) -> int:
    hits = [n for n, i in enumerate(instructions) if i.keyword == keyword and needle in i.args]
    assert hits, f"no {keyword} containing {needle!r}"
    return hits[0]


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in of(instructions, "ENV"):
        for pair in instruction.args.split():
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    defaults = {}
    for instruction in of(instructions, "ARG"):
        key, _, value = instruction.args.partition("=")
        defaults[key] = value.strip('"')
    return defaults


def base_image(instructions: list[Instruction]) -> str:
    """The image the first stage starts from, with its ARG default filled in."""
    image = of(instructions, "FROM")[0].args.split()[0]
    return re.sub(r"\$\{(\w+)\}", lambda m: arg_defaults(instructions)[m.group(1)], image)


def stages(instructions: list[Instruction]) -> dict[str, list[Instruction]]:
    """Each named stage's instructions, FROM first, in file order."""
    found: dict[str, list[Instruction]] = {}
    current: list[Instruction] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            current = [instruction]
            found[instruction.args.split()[-1]] = current
        elif current:
            current.append(instruction)
    return found


def load_yaml(name: str) -> Any:
    return yaml.safe_load((REPO_ROOT / name).read_text())


# --- Dockerfile and Dockerfile.test ---------------------------------------------------------------


@pytest.mark.parametrize("name", DOCKERFILES)
def test_runtime_is_installed_by_the_shared_script_before_the_code_is_copied(name: str) -> None:
    steps = dockerfile(name)
    install = index_of(steps, "RUN", INSTALL_SCRIPT)
    assert index_of(steps, "COPY", INSTALL_SCRIPT) < install
    assert index_of(steps, "COPY", "app/engine/js/package-lock.json") < install
    # Layer caching: nothing copied before the install may include the code or tests.
    for step in of(steps[:install], "COPY"):
        sources = step.args.split()[:-1]
        assert not {"app", "./app", ".", "tests"} & set(sources), step


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_copied_path_exists_in_the_build_context(name: str) -> None:
    for step in of(dockerfile(name), "COPY"):
        sources = [word for word in step.args.split()[:-1] if not word.startswith("--")]
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"{name}:{step.line} copies missing {source}"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_nothing_else_installs_runtime_dependencies(name: str) -> None:
    for step in of(dockerfile(name), "RUN"):
        assert not FOREIGN_INSTALLS.search(step.args), f"{name}:{step.line} installs outside {INSTALL_SCRIPT}"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_base_is_plain_debian_bookworm_so_it_can_be_rebuilt_from_debian_packages(name: str) -> None:
    # scripts/build-base-image.sh makes the same base with debootstrap where no registry answers;
    # Python comes from Debian inside the build (install-runtime.sh --image), not from the base.
    steps = dockerfile(name)
    assert base_image(steps) == "debian:bookworm-slim"
    assert of(steps, "FROM")[0].args.split()[0] == "${BASE_IMAGE}"
    install = steps[index_of(steps, "RUN", INSTALL_SCRIPT)].args
    assert f"{INSTALL_SCRIPT} --image" in install
    assert env_of(steps)["PATH"].startswith("/opt/venv/bin:")


def test_both_images_share_base_shell_and_run_time_environment() -> None:
    prod, test = dockerfile("Dockerfile"), dockerfile("Dockerfile.test")
    assert base_image(prod) == base_image(test)
    assert of(prod, "SHELL")[0].args == of(test, "SHELL")[0].args
    assert env_of(prod) == env_of(test)


def test_the_packed_ffmpeg_is_where_the_engine_looks_for_it() -> None:
    from app.engine.ffmpeg import IMAGE_PACKED_FFMPEG, PACKED_ENV

    assert env_of(dockerfile("Dockerfile"))[PACKED_ENV] == str(IMAGE_PACKED_FFMPEG)


def test_run_time_writes_go_to_tmp_only() -> None:
    steps = dockerfile("Dockerfile")
    env = env_of(steps)
    for key in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        assert env[key] == "/tmp" or env[key].startswith("/tmp/"), key
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert index_of(steps, "RUN", "compileall") < index_of(steps, "ENTRYPOINT", "")
    assert index_of(steps, "RUN", "fc-cache") < index_of(steps, "USER", "")


def test_production_image_runs_as_a_non_root_user() -> None:
    steps = dockerfile("Dockerfile")
    users = of(steps, "USER")
    assert users, "no USER instruction"
    assert users[-1].args.split(":")[0] not in {"root", "0"}
    assert steps.index(users[-1]) < index_of(steps, "ENTRYPOINT", "")


def test_production_image_gates_the_build_on_the_probe_as_that_user() -> None:
    steps = dockerfile("Dockerfile")
    probe = index_of(steps, "RUN", "python scripts/probe_beginframe.py")
    assert index_of(steps, "RUN", "pip install --no-cache-dir --no-deps --editable .") < probe
    assert steps.index(of(steps, "USER")[-1]) < probe
    assert "|| true" not in steps[probe].args


@pytest.mark.parametrize("probe_exit", [0, 1, 2])
def test_probe_gate_fails_the_build_exactly_when_the_probe_fails(tmp_path: Path, probe_exit: int) -> None:
    steps = dockerfile("Dockerfile")
    gate = steps[index_of(steps, "RUN", "python scripts/probe_beginframe.py")].args
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, code in (("python", probe_exit), ("find", 0)):  # find is stubbed: it deletes in /tmp
        (bin_dir / tool).write_text(f"#!/bin/sh\nexit {code}\n")
        (bin_dir / tool).chmod(0o755)
    shell = json.loads(of(steps, "SHELL")[-1].args)  # the RUN shell, as Docker would start it
    result = subprocess.run([*shell, gate], env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, check=False)
    assert result.returncode == probe_exit


def test_entrypoint_and_command_start_the_lambda_handler() -> None:
    steps = dockerfile("Dockerfile")
    assert json.loads(of(steps, "ENTRYPOINT")[-1].args) == ["/usr/local/bin/lambda-entrypoint.sh"]
    assert json.loads(of(steps, "CMD")[-1].args) == ["app.aws.handler.handler"]
    copy = steps[index_of(steps, "COPY", "scripts/lambda-entrypoint.sh")]
    assert copy.args.split() == ["--chmod=0755", "scripts/lambda-entrypoint.sh", "/usr/local/bin/lambda-entrypoint.sh"]


def test_emulator_comes_from_one_pinned_release_url_with_a_checksum_arg() -> None:
    steps = stages(dockerfile("Dockerfile"))["rie"]
    defaults = arg_defaults(steps)
    assert re.fullmatch(re.escape(RIE_RELEASES) + r"v\d+\.\d+/aws-lambda-rie", defaults["RIE_URL"])
    assert "RIE_SHA256" in defaults
    add = steps[index_of(steps, "ADD", "${RIE_URL}")]
    assert add.args.split()[-1] == RIE_PATH
    verify = steps[index_of(steps, "RUN", "RIE_SHA256")]
    assert "sha256sum --check" in verify.args


def test_the_production_stage_is_last_and_has_no_emulator_or_download() -> None:
    # `docker build .` builds the last stage; building it must never need the RIE download.
    named = stages(dockerfile("Dockerfile"))
    assert list(named) == ["runtime", "rie", "lambda"]
    assert [i.args for i in named["lambda"]] == ["runtime AS lambda"]
    assert named["rie"][0].args == "runtime AS rie"
    runtime = named["runtime"]
    assert not of(runtime, "ADD")
    assert not any("RIE" in i.args or "aws-lambda-rie" in i.args for i in runtime)


def test_test_image_adds_dev_extras_and_runs_the_selected_shard() -> None:
    steps = dockerfile("Dockerfile.test")
    assert "--image dev" in steps[index_of(steps, "RUN", "install-runtime.sh")].args
    assert index_of(steps, "RUN", "pip install --no-cache-dir --editable '.[dev]'") > index_of(steps, "COPY", ". .")
    index_of(steps, "RUN", "python scripts/probe_beginframe.py")
    cmd = json.loads(of(steps, "CMD")[-1].args)
    assert cmd[:4] == ["python", "scripts/select_shard.py", "--run", "--"]


def test_dockerignore_keeps_the_context_small_but_keeps_what_the_images_copy() -> None:
    patterns = {
        line.strip().strip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", "**/node_modules", "out"} <= patterns
    # Dockerfile.test copies the tree and its tests read these files.
    needed_files = ("app", "tests", "scripts", "examples", "infra", "pyproject.toml", "Makefile", ".github")
    needed_files += ("Dockerfile", "Dockerfile.test", "docker-compose.yml", ".dockerignore")
    for needed in needed_files:
        assert needed not in patterns and not any(p.startswith(needed + "/") for p in patterns), needed


# --- docker-compose.yml ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> Any:
    return load_yaml("docker-compose.yml")


def _python_c(healthcheck: dict[str, Any]) -> str:
    test = healthcheck["test"]
    assert test[0] == "CMD" and test[1] in {"python", "python3"} and test[2] == "-c", test
    return str(test[3])


@pytest.mark.skipif(
    shutil.which("podman") is None or shutil.which("podman-compose") is None,
    reason="podman-compose validates against podman; scripts/container-engine.sh installs podman",
)
def test_podman_compose_reads_the_file_as_docker_compose_does(compose: Any) -> None:
    done = subprocess.run(
        ["podman-compose", "-f", "docker-compose.yml", "config"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    resolved = yaml.safe_load(done.stdout)
    assert set(resolved["services"]) == set(compose["services"])
    for name in ("worker-1", "worker-2", "render"):
        assert resolved["services"][name]["build"]["target"] == "rie", name


def test_compose_has_the_offline_services(compose: Any) -> None:
    assert set(compose["services"]) == {"localstack", "worker-1", "worker-2", "render"}


def test_compose_images_are_pinned(compose: Any) -> None:
    built = set()
    for name, service in compose["services"].items():
        _, _, tag = service["image"].partition(":")
        assert tag and tag != "latest", f"{name}: {service['image']}"
        if "build" in service:
            built.add(service["image"])
        else:
            assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{name} pulls an unpinned {service['image']}"
    assert len(built) == 1, f"workers and driver must share one image, got {built}"


def test_every_long_running_service_has_a_healthcheck_and_only_render_exits(compose: Any) -> None:
    # docker compose --abort-on-container-exit stops the stack when ANY container exits, so render
    # must be the only one-shot; the others are what render waits on.
    for name, service in compose["services"].items():
        if name == "render":
            assert "healthcheck" not in service
        else:
            compile(_python_c(service["healthcheck"]), f"{name} healthcheck", "exec")


def test_render_waits_for_healthy_storage_and_workers(compose: Any) -> None:
    depends = compose["services"]["render"]["depends_on"]
    assert {name: d["condition"] for name, d in depends.items()} == {
        "localstack": "service_healthy",
        "worker-1": "service_healthy",
        "worker-2": "service_healthy",
    }


def _option_values(command: list[str], option: str) -> list[str]:
    return [command[i + 1] for i, word in enumerate(command) if word == option]


def test_render_drives_both_workers_and_writes_to_the_out_volume(compose: Any) -> None:
    render = compose["services"]["render"]
    command = render["command"]
    assert render["entrypoint"] == ["framecast"]
    assert command[:2] == ["render", "/examples/hello"]
    assert "./examples:/examples:ro" in render["volumes"]
    assert "./out:/out" in render["volumes"]
    assert _option_values(command, "-o")[0].startswith("/out/")
    assert _option_values(command, "--backend") == ["rie"]
    assert _option_values(command, "--endpoint") == ["http://worker-1:8080", "http://worker-2:8080"]
    assert _option_values(command, "--chunks") == ["4"]


def test_workers_reach_localstack_and_run_like_lambda(compose: Any) -> None:
    bucket = _option_values(compose["services"]["render"]["command"], "--bucket")[0]
    for name in ("worker-1", "worker-2"):
        worker = compose["services"][name]
        assert worker["environment"]["AWS_ENDPOINT_URL"] == "http://localstack:4566"
        assert bucket in worker["environment"]["FRAMECAST_BUCKET_ALLOWLIST"].split(",")
        assert worker["read_only"] is True
        assert any(t.split(":")[0] == "/tmp" for t in worker["tmpfs"])
        assert "user" not in worker and "entrypoint" not in worker


def test_localstack_creates_the_bucket_render_uses(compose: Any) -> None:
    localstack = compose["services"]["localstack"]
    bucket = _option_values(compose["services"]["render"]["command"], "--bucket")[0]
    assert localstack["environment"]["SERVICES"] == "s3"
    assert localstack["environment"]["FRAMECAST_BUCKET"] == bucket
    (config,) = localstack["configs"]
    assert config["target"].startswith("/etc/localstack/init/ready.d/")
    assert config["target"].endswith(".py")
    compile(compose["configs"][config["source"]]["content"], "create-bucket", "exec")


READY = {"completed": True, "scripts": [{"stage": "READY", "name": "create_bucket.py", "state": "SUCCESSFUL"}]}


@pytest.mark.parametrize(
    ("health", "init", "healthy"),
    [
        ({"services": {"s3": "available"}}, READY, True),
        ({"services": {"s3": "running"}}, READY, True),
        ({"services": {"s3": "starting"}}, READY, False),
        ({"services": {}}, READY, False),
        ({"services": {"s3": "running"}}, {"completed": False, "scripts": []}, False),
        ({"services": {"s3": "running"}}, {"completed": True, "scripts": [{"state": "ERROR"}]}, False),
    ],
)
def test_localstack_is_healthy_once_s3_serves_and_the_bucket_script_succeeded(
    compose: Any, monkeypatch: pytest.MonkeyPatch, health: Any, init: Any, healthy: bool
) -> None:
    pages = {"health": health, "init/ready": init}

    def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
        base, _, page = url.partition("/_localstack/")
        assert base == "http://127.0.0.1:4566"
        return io.BytesIO(json.dumps(pages[page]).encode())

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(SystemExit) as exit_info:
        exec(_python_c(compose["services"]["localstack"]["healthcheck"]), {})
    assert (exit_info.value.code == 0) is healthy


# --- .github/workflows/ci.yml ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ci() -> Any:
    return load_yaml(".github/workflows/ci.yml")


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_ci_lints_with_make_lint(ci: Any) -> None:
    assert "make lint" in _runs(ci["jobs"]["lint"])


def test_ci_runs_four_test_shards_in_the_test_image_with_docker_access(ci: Any) -> None:
    job = ci["jobs"]["test"]
    assert job["strategy"]["matrix"]["shard"] == [0, 1, 2, 3]
    assert str(job["env"]["SHARDS"]) == "4"
    builds = [s["with"] for s in job["steps"] if str(s.get("uses", "")).startswith("docker/build-push-action")]
    assert builds and builds[0]["file"] == "Dockerfile.test"
    runs = _runs(job)
    assert "-v /var/run/docker.sock:/var/run/docker.sock" in runs
    assert "SHARD=${{ matrix.shard }}" in runs


def test_ci_renders_through_compose_and_checks_the_output(ci: Any, compose: Any) -> None:
    job = ci["jobs"]["compose"]
    builds = [s["with"] for s in job["steps"] if str(s.get("uses", "")).startswith("docker/build-push-action")]
    assert builds and builds[0]["tags"] == compose["services"]["render"]["image"]
    runs = _runs(job)
    assert re.search(r"docker compose up .*--abort-on-container-exit --exit-code-from render", runs)
    assert "out/hello.mp4" in runs
