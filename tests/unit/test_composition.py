"""Static reading of a project: the root composition, its errors, variable declarations and clip starts."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from app.engine.composition import read_composition
from app.errors import CompositionInvalidError, DurationOutOfRangeError, InputError
from tests.support.compositions import write_composition


def project(tmp_path: Path, html: str) -> Path:
    (tmp_path / "index.html").write_text(html, encoding="utf-8")
    return tmp_path


def root(attrs: str = "", inner: str = "") -> str:
    base = 'data-composition-id="c" data-width="320" data-height="180" data-duration="2"'
    return f"<!doctype html><html><body><div {base} {attrs}>{inner}</div></body></html>"


def test_root_attributes_are_read(tmp_path: Path) -> None:
    write_composition(tmp_path, id="intro", width=640, height=360, duration=2.5, fps=25)
    comp = read_composition(tmp_path)
    assert (comp.composition_id, comp.width, comp.height, comp.duration, comp.fps) == ("intro", 640, 360, 2.5, 25)
    assert comp.project_dir == tmp_path.resolve()
    assert comp.variables_declaration == [] and comp.media == []


def test_duration_and_fps_are_optional(tmp_path: Path) -> None:
    write_composition(tmp_path, id="c", duration=None, fps=None)
    comp = read_composition(tmp_path)
    assert (comp.duration, comp.fps) == (None, None)


def test_missing_folder_is_composition_invalid_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CompositionInvalidError, match="does not exist"):
        read_composition(tmp_path / "nowhere")


def test_folder_without_index_html_is_composition_invalid(tmp_path: Path) -> None:
    with pytest.raises(CompositionInvalidError, match=r"has no index\.html"):
        read_composition(tmp_path)


def test_page_without_a_composition_root_says_what_to_add(tmp_path: Path) -> None:
    with pytest.raises(CompositionInvalidError, match=r"no composition root.*data-composition-id"):
        read_composition(project(tmp_path, "<html><body><div>hello</div></body></html>"))


@pytest.mark.parametrize(
    ("attrs", "fragment"),
    [
        ('data-composition-id="c" data-height="180" data-duration="1"', "no data-width"),
        ('data-composition-id="c" data-width="320" data-duration="1"', "no data-height"),
        ('data-composition-id="c" data-width="wide" data-height="180"', "not a number"),
        ('data-composition-id="c" data-width="320.5" data-height="180"', "whole number of pixels"),
        ('data-composition-id="c" data-width="8" data-height="180"', "from 16 to 7680"),
        ('data-composition-id="c" data-width="320" data-height="9000"', "from 16 to 7680"),
        ('data-composition-id="c" data-width="320" data-height="180" data-fps="fast"', "data-fps"),
    ],
)
def test_bad_root_attributes_are_composition_invalid(tmp_path: Path, attrs: str, fragment: str) -> None:
    with pytest.raises(CompositionInvalidError, match=fragment):
        read_composition(project(tmp_path, f"<html><body><div {attrs}></div></body></html>"))


@pytest.mark.parametrize(
    ("value", "rate"), [("29.97", Fraction(30000, 1001)), ("12", Fraction(12)), ("1", Fraction(1))]
)
def test_data_fps_is_read_as_an_exact_rate(tmp_path: Path, value: str, rate: Fraction) -> None:
    html = f'<html><body><div data-composition-id="c" data-width="320" data-height="180" data-fps="{value}">'
    assert read_composition(project(tmp_path, html + "</div></body></html>")).fps == rate


@pytest.mark.parametrize("value", ["0", "121", "-1", "29.5", "abc", "NaN"])
def test_a_bad_data_fps_is_composition_invalid_naming_the_accepted_values(tmp_path: Path, value: str) -> None:
    html = f'<html><body><div data-composition-id="c" data-width="320" data-height="180" data-fps="{value}">'
    with pytest.raises(CompositionInvalidError, match=r"29\.97") as caught:
        read_composition(project(tmp_path, html + "</div></body></html>"))
    assert value in caught.value.message


@pytest.mark.parametrize("value", ["0", "-1", "Infinity", "NaN", "90000", "soon"])
def test_unusable_duration_is_duration_out_of_range(tmp_path: Path, value: str) -> None:
    html = f'<html><body><div data-composition-id="c" data-width="320" data-height="180" data-duration="{value}">'
    with pytest.raises(DurationOutOfRangeError) as caught:
        read_composition(project(tmp_path, html + "</div></body></html>"))
    assert isinstance(caught.value, InputError)
    assert value in caught.value.message


def test_explicit_root_wins_over_document_order(tmp_path: Path) -> None:
    html = (
        '<html><body><div data-composition-id="first" data-width="320" data-height="180"></div>'
        '<div data-composition-id="main" data-root="true" data-width="640" data-height="360"></div></body></html>'
    )
    assert read_composition(project(tmp_path, html)).composition_id == "main"


def test_nested_composition_is_not_taken_for_the_root(tmp_path: Path) -> None:
    html = (
        '<html><body><section><div data-composition-id="outer" data-width="320" data-height="180">'
        '<div data-composition-id="inner" data-width="100" data-height="100"></div></div></section></body></html>'
    )
    assert read_composition(project(tmp_path, html)).composition_id == "outer"


def test_variables_declaration_is_read_from_the_html_element(tmp_path: Path) -> None:
    decl = [{"id": "accent", "type": "color", "default": "#00ff00"}, {"id": "title", "type": "string"}]
    write_composition(tmp_path, id="c", variables_decl=decl)
    assert read_composition(tmp_path).variables_declaration == decl


@pytest.mark.parametrize(
    ("raw", "fragment"), [("{not json", "not valid JSON"), ('{"id": "a"}', "JSON array"), ('[{"type": "x"}]', "'id'")]
)
def test_bad_variables_declaration_is_composition_invalid(tmp_path: Path, raw: str, fragment: str) -> None:
    html = root().replace("<html>", f"<html data-composition-variables='{raw}'>")
    with pytest.raises(CompositionInvalidError, match=fragment):
        read_composition(project(tmp_path, html))


def test_media_clip_attributes_are_read(tmp_path: Path) -> None:
    inner = (
        '<audio id="music" src="a.wav" data-start="0.5" data-duration="1" data-media-start="2" data-volume="0.5" '
        'data-playback-rate="1.5" loop></audio>'
        '<video id="clip" src="v.mp4" data-start="1" data-has-audio="true"></video>'
        '<video id="mute" src="m.mp4"></video><audio id="nosrc"></audio>'
    )
    comp = read_composition(project(tmp_path, root(inner=inner)))
    music, clip, mute = comp.media
    assert (music.tag, music.start, music.duration, music.media_start, music.volume) == ("audio", 0.5, 1.0, 2.0, 0.5)
    assert (music.playback_rate, music.loop, music.has_audio) == (1.5, True, True)
    assert (clip.tag, clip.start, clip.has_audio) == ("video", 1.0, True)
    assert mute.has_audio is False
    assert [m.element_id for m in comp.audio_sources] == ["music", "clip"]
    assert [m.element_id for m in comp.videos] == ["clip", "mute"]


def test_volume_and_rate_are_clamped_and_negative_starts_become_zero(tmp_path: Path) -> None:
    inner = '<audio id="a" src="a.wav" data-start="-3" data-volume="10" data-playback-rate="99"></audio>'
    (clip,) = read_composition(project(tmp_path, root(inner=inner))).media
    assert (clip.start, clip.volume, clip.playback_rate) == (0.0, 3.98, 5.0)


def test_bad_media_number_is_composition_invalid_naming_the_element(tmp_path: Path) -> None:
    inner = '<audio id="a" src="a.wav" data-volume="loud"></audio>'
    with pytest.raises(CompositionInvalidError, match=r"id='a'.*data-volume"):
        read_composition(project(tmp_path, root(inner=inner)))


def test_relative_start_is_the_end_of_the_named_clip_plus_offset(tmp_path: Path) -> None:
    inner = (
        '<div id="intro" data-start="1" data-duration="2"></div>'
        '<audio id="after" src="a.wav" data-start="intro"></audio>'
        '<audio id="later" src="a.wav" data-start="intro + 0.5"></audio>'
        '<audio id="overlap" src="a.wav" data-start="intro - 1.5"></audio>'
        '<audio id="chained" src="a.wav" data-start="later - 0.25" data-duration="1"></audio>'
        '<audio id="clamped" src="a.wav" data-start="intro - 10"></audio>'
    )
    starts = {m.element_id: m.start for m in read_composition(project(tmp_path, root(inner=inner))).media}
    # "later" has no data-duration, so its end is its start.
    assert starts == {"after": 3.0, "later": 3.5, "overlap": 1.5, "chained": 3.25, "clamped": 0.0}


def test_a_hyphenated_id_is_a_name_not_an_offset_as_in_the_page_runtime(tmp_path: Path) -> None:
    inner = '<div id="part-2" data-start="4" data-duration="1"></div>'
    inner += '<audio id="a" src="a.wav" data-start="part-2"></audio>'
    (clip,) = read_composition(project(tmp_path, root(inner=inner))).media
    assert clip.start == 5.0


def test_relative_start_may_name_a_composition_id(tmp_path: Path) -> None:
    inner = (
        '<div data-composition-id="scene" data-start="2" data-duration="3"></div>'
        '<audio id="a" src="a.wav" data-start="scene + 1"></audio>'
    )
    (clip,) = read_composition(project(tmp_path, root(inner=inner))).media
    assert clip.start == 6.0


@pytest.mark.parametrize(
    "inner",
    [
        '<audio id="a" src="a.wav" data-start="ghost"></audio>',
        '<audio id="a" src="a.wav" data-start="ghost + 1"></audio>',
        '<audio id="a" src="a.wav" data-start="+ 1"></audio>',
        '<audio id="a" src="a.wav" data-start="b"></audio><audio id="b" src="b.wav" data-start="a"></audio>',
    ],
    ids=["unknown", "unknown-plus", "no-name", "cycle"],
)
def test_unresolvable_relative_start_is_composition_invalid(tmp_path: Path, inner: str) -> None:
    with pytest.raises(CompositionInvalidError, match="names no clip"):
        read_composition(project(tmp_path, root(inner=inner)))
