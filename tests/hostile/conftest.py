"""Fixtures for the hostile-input suite (real Chrome and ffmpeg where a render runs)."""

from tests.support.compositions import make_project

__all__ = ["make_project"]  # the session fixture that writes compositions into temp folders
