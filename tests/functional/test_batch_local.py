"""render-batch on this machine: real Chrome and ffmpeg, one warm browser for many rows.

The project is examples/variables shrunk to 320x180 and 1 s (the name moved on screen, the other
text hidden) so that the accent (left stripe), the theme (background) and the name all show up in
the last frame.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from app.batch.dispatch import DispatchOptions
from app.batch.local_backend import LocalBackend
from app.batch.manifest import BatchHeader, read_manifest
from app.batch.run import execute, load_batch, plan_rows
from app.cli.main import main
from app.cli.progress import console
from app.engine.render import RenderOptions
from tests.support.media_checks import close_to, decode_frame, pixel

pytestmark = pytest.mark.chrome

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "variables" / "index.html"
STRIPE = (10, 120)
BACKGROUND = (250, 20)
NAME_BOX = (40, 40, 250, 100)  # (left, top, right, bottom) around the name
ROWS = [
    {"outputKey": "ada.mp4", "variables": {"name": "Ada", "accent": "#ff0000"}},
    {"outputKey": "grace.mp4", "variables": {"name": "Grace", "accent": "#00ff00", "theme": "light"}},
    {"outputKey": "team/linus.mp4", "variables": {"name": "Linus", "accent": "#0000ff"}},
    {"outputKey": "team/margaret.mp4", "variables": {"name": "Margaret", "accent": "#ff0000"}},
    {"outputKey": "defaults.mp4"},
]


def small_variables_project(folder: Path) -> Path:
    html = EXAMPLE.read_text(encoding="utf-8")
    html, count = re.subn(
        r'data-width="1280" data-height="720" data-duration="4"',
        'data-width="320" data-height="180" data-duration="1"',
        html,
    )
    assert count == 1, "examples/variables changed shape; update this test's shrinking"
    override = "<style>#name{left:40px;top:40px;font-size:40px}#hello,#role,#ring{display:none}</style>"
    folder.mkdir(parents=True)
    (folder / "index.html").write_text(html.replace("</head>", override + "</head>"), encoding="utf-8")
    return folder


def write_batch(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def name_region(video: Path) -> list[tuple[int, ...]]:
    frame = decode_frame(video, 29)
    left, top, right, bottom = NAME_BOX
    return [pixel(frame, (x, y)) for x in range(left, right, 6) for y in range(top, bottom, 6)]


def differs(a: list[tuple[int, ...]], b: list[tuple[int, ...]]) -> int:
    return sum(1 for p, q in zip(a, b, strict=True) if not close_to(p, q, tolerance=40))


def test_five_rows_render_with_one_browser_and_pixels_follow_the_variables(tmp_path: Path) -> None:
    project = small_variables_project(tmp_path / "project")
    batch_path = write_batch(tmp_path / "people.jsonl", ROWS)
    out = tmp_path / "out"
    _, batch = load_batch(project, batch_path, strict=True, console=console)
    header = BatchHeader(
        batch_file=str(batch_path),
        batch_digest=batch.digest,
        batch_id="t",
        backend="local",
        project=str(project),
        rows=5,
    )
    plan = plan_rows(batch, header, None, durable_starts=False, retry_failed=False, wait=True)
    with LocalBackend(project, out, RenderOptions(), workers=1) as backend:
        outcome = execute(
            backend,
            header,
            plan,
            tmp_path / "m.jsonl",
            DispatchOptions(max_concurrent=1, wait=True),
            console=console,
            heartbeat_seconds=60,
        )
        launches = backend.browser_launches
    assert outcome.exit_code == 0, outcome.rows
    assert launches == 1  # five rows, one browser: no launch per row
    videos = {row["outputKey"]: out / str(row["outputKey"]) for row in ROWS}
    assert all(path.is_file() for path in videos.values())
    last = {key: decode_frame(path, 29) for key, path in videos.items()}
    assert close_to(pixel(last["ada.mp4"], STRIPE), (255, 0, 0), 40)
    assert close_to(pixel(last["grace.mp4"], STRIPE), (0, 255, 0), 40)
    assert close_to(pixel(last["team/linus.mp4"], STRIPE), (0, 0, 255), 40)
    assert close_to(pixel(last["defaults.mp4"], STRIPE), (0x38, 0xBD, 0xF8), 40)
    assert close_to(pixel(last["grace.mp4"], BACKGROUND), (0xF8, 0xFA, 0xFC), 20)  # light theme
    assert close_to(pixel(last["ada.mp4"], BACKGROUND), (0x0B, 0x10, 0x20), 20)  # dark theme
    # Same accent and theme, different names: the name differs, the stripe does not.
    assert differs(name_region(videos["ada.mp4"]), name_region(videos["team/margaret.mp4"])) > 10
    assert close_to(pixel(last["team/margaret.mp4"], STRIPE), pixel(last["ada.mp4"], STRIPE), 8)
    # Same name, different accent: the name region is the same.
    assert differs(name_region(videos["ada.mp4"]), name_region(videos["defaults.mp4"])) == 0
    _, rows = read_manifest(tmp_path / "m.jsonl")
    assert [rows[i].status for i in range(1, 6)] == ["succeeded"] * 5
    assert rows[3].output_uri == str((out / "team" / "linus.mp4").resolve())
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporaries left


def test_a_failing_row_does_not_stop_the_batch_and_resume_retries_only_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = small_variables_project(tmp_path / "project")
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(outside, target_is_directory=True)
    (out / "blocked.mp4").mkdir()  # a folder where a row's file should go: that render must fail
    rows = [
        {"outputKey": "one.mp4", "variables": {"name": "One"}},
        {"outputKey": "link/escape.mp4"},
        {"outputKey": "blocked.mp4"},
    ]
    batch_path = write_batch(tmp_path / "people.jsonl", rows)
    manifest = tmp_path / "m.jsonl"
    argv = ["render-batch", str(project), "--batch", str(batch_path), "-o", str(out), "--max-concurrent", "1"]
    code = main([*argv, "--manifest", str(manifest), "--json"])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    document = json.loads(captured.out)
    statuses = {row["outputKey"]: (row["status"], row["error"]) for row in document["rows"]}
    assert statuses["one.mp4"] == ("succeeded", None)
    assert statuses["link/escape.mp4"][0] == "failed-to-start"
    assert "outside the output folder" in statuses["link/escape.mp4"][1]
    assert statuses["blocked.mp4"][0] == "failed"
    assert list(outside.iterdir()) == []
    first_mtime = os.stat(out / "one.mp4").st_mtime_ns

    (out / "blocked.mp4").rmdir()
    (out / "link").unlink()
    code = main([*argv, "--resume", str(manifest)])
    assert code == 1  # without --retry-failed the failures stay failures
    code = main([*argv, "--resume", str(manifest), "--retry-failed"])
    assert code == 0, capsys.readouterr().err
    _, by_line = read_manifest(manifest)
    assert [by_line[i].status for i in (1, 2, 3)] == ["succeeded"] * 3
    assert (out / "link" / "escape.mp4").is_file() and (out / "blocked.mp4").is_file()
    assert os.stat(out / "one.mp4").st_mtime_ns == first_mtime  # the succeeded row was not rendered again


def test_an_output_folder_inside_the_project_is_refused_before_any_row_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = small_variables_project(tmp_path / "project")
    batch = write_batch(tmp_path / "people.jsonl", ROWS[:2])
    before = sorted(p.name for p in project.rglob("*"))
    manifest = tmp_path / "m.jsonl"
    code = main(
        ["render-batch", str(project), "--batch", str(batch), "-o", str(project / "out"), "--manifest", str(manifest)]
    )
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "OUTPUT_PATH_UNSAFE" in captured.err
    assert sorted(p.name for p in project.rglob("*")) == before  # not even the output folder was made
    assert not manifest.exists()
