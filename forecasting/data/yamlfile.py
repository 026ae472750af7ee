"""Reading YAML that users write (configs, dataset.yaml, deals and scenario files) without surprises.

Aliases are refused (a few lines of nested aliases expand to gigabytes: the "billion laughs"), a key given twice is
an error instead of the last one silently winning, and files above a size limit are refused before parsing.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from forecasting.data.problems import InputError, Problem

MAX_BYTES = 1 << 20


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a plain value",
                                                        key_node.start_mark) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_yaml(text: str, name: str):
    """Parse YAML text; any problem is one InputError line naming the file (and the line where YAML says)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        row = mark.line + 1 if mark is not None else None
        raise InputError(Problem(name, row, None, f"is not valid YAML: {exc.problem or exc.context}")) from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        raise InputError(Problem(name, None, None, f"is not valid YAML: {str(exc).splitlines()[0][:200]}")) from None


def read_yaml(path: Path | str, max_bytes: int = MAX_BYTES):
    """Read and parse a YAML file (UTF-8, BOM allowed) of at most ``max_bytes``."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(Problem(name, None, None, f"is {size:,} bytes; at most {max_bytes:,} are read"))
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(Problem(name, None, None, f"is not UTF-8 text (byte {exc.start}); save it as UTF-8")) from None
    return parse_yaml(text, name)
