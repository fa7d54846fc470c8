"""Reading YAML case files safely, keeping the line of every mapping and key.

Only YAML's plain data types are accepted (the safe loader): a `!!python/...`
tag, or any other tag, is refused with its file and line.
"""

import re

import yaml


class LineDict(dict):
    """A mapping that remembers the line it starts on and the line of each key."""

    line = 0
    key_lines: dict


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader (libyaml's C parser where PyYAML has it): plain data types only."""


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 reads 1e-3 (no dot) as a string; case files mean a number, as YAML 1.2 and JSON do.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


class YamlError(Exception):
    def __init__(self, line, message):
        super().__init__(message)
        self.line = line
        self.message = message


def load(text):
    """Parse YAML text into plain data (LineDicts for mappings); raise YamlError with a line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = exc.problem or str(exc)
        if "could not determine a constructor" in problem:
            tag = re.search(r"'([^']*)'", problem)
            problem = f"tag {tag[1] if tag else '?'} is not allowed (case files hold plain data only)"
        return _raise(line, problem)
    except yaml.YAMLError as exc:
        return _raise(0, str(exc))


def _raise(line, message):
    raise YamlError(line, " ".join(message.split()))


def line_of(tree, path):
    """The line of the deepest mapping key on `path` inside a tree of LineDicts."""
    line = getattr(tree, "line", 0)
    node = tree
    for part in path:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, node.line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line
