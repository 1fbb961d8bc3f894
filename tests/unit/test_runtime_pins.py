"""Pins are stated once and agree: the install script, pyproject and the npm lockfile."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (ROOT / "scripts" / "install-runtime.sh").read_text()


def _script_var(name: str) -> str:
    match = re.search(rf'^{name}="?([^"\s]+)"?', SCRIPT, re.MULTILINE)
    assert match, f"{name} is not set in install-runtime.sh"
    return match.group(1)


def test_ffmpeg_wheel_pin_matches_pyproject() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"imageio-ffmpeg=={_script_var('IMAGEIO_FFMPEG_VERSION')}" in deps


def test_chrome_is_pinned_to_an_exact_debian_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+-\S+", _script_var("CHROME_VERSION"))


def test_page_runtime_and_test_libraries_are_pinned_exactly_and_locked() -> None:
    js = ROOT / "app" / "engine" / "js"
    package = json.loads((js / "package.json").read_text())
    locked = json.loads((js / "package-lock.json").read_text())["packages"]
    for name, version in {**package["dependencies"], **package["devDependencies"]}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} must be pinned exactly, not {version}"
        assert locked[f"node_modules/{name}"]["version"] == version


def test_the_image_keeps_only_the_served_packages_not_the_test_libraries() -> None:
    package = json.loads((ROOT / "app" / "engine" / "js" / "package.json").read_text())
    match = re.search(r"^SERVED_NODE_PACKAGES=\(([^)]*)\)", SCRIPT, re.MULTILINE)
    assert match, "SERVED_NODE_PACKAGES is not set in install-runtime.sh"
    served = {name.strip('"') for name in match.group(1).split()}
    assert served == set(package["dependencies"])
    assert not served & set(package["devDependencies"])


def test_installed_runtime_files_are_not_committed() -> None:
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "node_modules/" in ignored
