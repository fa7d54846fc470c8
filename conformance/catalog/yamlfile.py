"""Reading YAML case files safely, keeping the line of every mapping and key.

Only the types JSON has are accepted (the safe loader, less its dates, sets,
binary and ordered pairs): a `!!python/...` tag, or any other tag, an unquoted
date such as 2001-01-01, or a mapping key that is not a string is refused with
its line. The document is bounded before any Python object is built (see
bounds.py): its nesting depth, its aliases and its size with the aliases
expanded, so that an alias bomb or a recursive alias is refused at once.
"""

import re

import yaml

from conformance.catalog import bounds


class LineDict(dict):
    """A mapping that remembers the line it starts on and the line of each key."""

    line = 0
    key_lines: dict


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader (libyaml's C parser where PyYAML has it): plain data types only."""

    def get_single_data(self):
        node = self.get_single_node()  # composed by libyaml: nodes only, no Python values yet
        if node is None:
            return None
        check_bounds(node)
        return self.construct_document(node)


def check_bounds(root):
    """Refuse a node graph that is too deep, has too many aliases, or is too big once they are
    expanded (an alias bomb), or that refers to itself. Iterative: no recursion to run out of.
    A document without aliases is a tree: one pass counts it; only one with aliases is measured
    with them expanded."""
    max_depth = bounds.limit("CONFORMANCE_MAX_YAML_DEPTH")
    max_aliases = bounds.limit("CONFORMANCE_MAX_YAML_ALIASES")
    max_nodes = bounds.limit("CONFORMANCE_MAX_YAML_NODES")
    seen, aliases = set(), 0
    stack = [(root, 1)]
    sequence, mapping = yaml.SequenceNode, yaml.MappingNode
    while stack:
        node, depth = stack.pop()
        key = id(node)
        if key in seen:
            aliases += 1
            if aliases > max_aliases:
                _raise_at(node, f"more than {max_aliases:,} aliases (CONFORMANCE_MAX_YAML_ALIASES)")
            continue
        seen.add(key)
        if depth > max_depth:
            _raise_at(node, f"nested more than {max_depth} levels deep (CONFORMANCE_MAX_YAML_DEPTH)")
        if isinstance(node, sequence):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, mapping):
            for pair in node.value:
                stack.append((pair[0], depth + 1))
                stack.append((pair[1], depth + 1))
    if len(seen) > max_nodes:
        _raise_at(root, f"the document holds more than {max_nodes:,} values (CONFORMANCE_MAX_YAML_NODES)")
    if aliases:
        _check_expanded(root, max_nodes, max_depth)


def _check_expanded(root, max_nodes, max_depth):
    """Size and depth of the tree the aliases stand for (each node measured once), and no cycle."""
    measured = {}  # id(node) -> (values, depth) of its subtree with aliases expanded
    on_path = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            parts = [measured[id(c)] for c in _children(node)]
            size = 1 + sum(p[0] for p in parts)
            depth = 1 + max((p[1] for p in parts), default=0)
            if size > max_nodes:
                _raise_at(node, f"the document holds more than {max_nodes:,} values once its aliases are "
                                f"expanded (CONFORMANCE_MAX_YAML_NODES); an alias bomb?")
            if depth > max_depth:
                _raise_at(node, f"nested more than {max_depth} levels deep once its aliases are expanded "
                                "(CONFORMANCE_MAX_YAML_DEPTH)")
            measured[key] = (size, depth)
            continue
        if key in on_path:
            _raise_at(node, "an alias refers to the node that contains it (a recursive structure)")
        if key in measured:
            continue
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in measured)


def _children(node):
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return ()


def _raise_at(node, message):
    raise yaml.constructor.ConstructorError(None, None, message, node.start_mark)


def _refuse(kind):
    def construct(loader, node):
        hint = "; quote it to make it a string" if kind == "a date or timestamp" else ""
        raise yaml.constructor.ConstructorError(
            None, None, f"{kind} is not plain data (case files hold what JSON holds){hint}", node.start_mark)
    return construct


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a string, not a list or a mapping", key_node.start_mark)
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"a mapping key must be a string, not {type(key).__name__} {key!r}; quote it",
                key_node.start_mark)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
for _tag, _kind in (("timestamp", "a date or timestamp"), ("set", "a set (!!set)"),
                    ("binary", "binary data (!!binary)"), ("omap", "an ordered map (!!omap)"),
                    ("pairs", "a list of pairs (!!pairs)")):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse(_kind))
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
    except yaml.reader.ReaderError as exc:  # e.g. a control character: its position, not a mark
        line = text.count("\n", 0, exc.position) + 1 if isinstance(text, str) else 0
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        character = f"character U+{code:04X}" if isinstance(code, int) else "a character"
        return _raise(line, f"{character} is not allowed in YAML ({exc.reason})")
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
