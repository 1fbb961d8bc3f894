"""Fixtures for the compatibility suite: one small composition per kind of page motion (real Chrome)."""

from tests.support.compositions import make_project

__all__ = ["make_project"]  # the session fixture that writes compositions into temp folders
