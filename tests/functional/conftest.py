"""Fixtures shared by the functional tests (real Chrome and ffmpeg)."""

from tests.support.compositions import make_project

__all__ = ["make_project"]  # the session fixture that writes compositions into temp folders
