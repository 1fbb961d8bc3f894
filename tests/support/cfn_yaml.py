"""Load CloudFormation YAML templates, short intrinsic tags included, into plain Python data.

PyYAML's safe loader rejects ``!Ref``, ``!Sub``, ``!GetAtt`` and friends. This loader turns each into
the long form CloudFormation itself uses (``!Sub x`` → ``{"Fn::Sub": "x"}``, ``!Ref x`` →
``{"Ref": "x"}``, ``!GetAtt A.B`` → ``{"Fn::GetAtt": ["A", "B"]}``), so tests can walk one shape.
Values are plain dicts, lists and scalars: no positions, no custom node classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Tags whose long form is not simply "Fn::" + tag.
_SPECIAL_NAMES = {"Ref": "Ref", "Condition": "Condition"}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short intrinsic tags."""


def _construct_intrinsic(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _SPECIAL_NAMES.get(tag_suffix, f"Fn::{tag_suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            # The dotted scalar form splits at the first dot only: attribute names may contain dots.
            resource, _, attribute = str(value).partition(".")
            value = [resource, attribute]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def loads(text: str) -> dict[str, Any]:
    """Parse template text; raise ``ValueError`` unless the document is a mapping."""
    data = yaml.load(text, Loader=_CfnLoader)
    if not isinstance(data, dict):
        raise ValueError(f"a CloudFormation template is a mapping, got {type(data).__name__}")
    return data


def load(path: str | Path) -> dict[str, Any]:
    """Parse the template at ``path``."""
    return loads(Path(path).read_text(encoding="utf-8"))
