"""One loader for every YAML format (frameworks, scenarios, challenges, transcript fixtures).

`load_yaml_model(path, Model, Error)` reads a file, parses it with the SafeLoader (bounded: size, flow
nesting, node count after aliases; duplicate keys and recursive aliases rejected) and validates it with
pydantic. Every problem is raised as `Error(file, line, reason)`, one line `file:line: reason`, the
line being that of the YAML node the problem is at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from aslgate.errors import UserError

M = TypeVar("M", bound=BaseModel)
MakeError = Callable[[str, int, str], Exception]  # (file, line, reason) -> the format's error
MAX_FILE_BYTES = 4_000_000
MAX_NODES = 400_000  # after alias expansion (a billion-laughs guard)
MAX_FLOW_DEPTH = 64  # PyYAML's scanner is quadratic in flow nesting; legit files nest a few deep
_SYNTAX_ERRORS = (yaml.scanner.ScannerError, yaml.parser.ParserError, yaml.composer.ComposerError)


class LocatedError(UserError, ValueError):
    """A file that cannot be used: `file:line: reason` (or, raised with one message, just that message)."""

    def __init__(self, file: str, line: int | None = None, reason: str | None = None) -> None:
        if reason is None:  # a plain one-line message
            self.file, self.line, self.reason = None, None, file
            super().__init__(file)
            return
        self.file, self.line, self.reason = file, line, " ".join(reason.split())
        super().__init__(f"{file}:{line}: {self.reason}")


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML file: its node tree (for line numbers) and the plain data built from it."""

    file: str
    node: Node
    data: Any


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, max(0, offset)) + 1


def read_yaml_text(
    path: Path, error: MakeError, *, max_bytes: int = MAX_FILE_BYTES, what: str = "file", hint: str = ""
) -> str:
    """The file's text; refused when unreadable, too large, binary or not UTF-8 (with the line)."""
    file = str(path)
    try:
        if path.stat().st_size > max_bytes:
            raise error(file, 1, f"file larger than {max_bytes} bytes")
        raw = path.read_bytes()
    except OSError as exc:
        raise error(file, 0, f"cannot read {what}: {exc.strerror or exc}{hint}") from None
    if b"\x00" in raw:
        raise error(file, raw.count(b"\n", 0, raw.index(b"\x00")) + 1, "binary data (NUL byte)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise error(file, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None


def _check_nodes(root: Node, file: str, error: MakeError, max_nodes: int) -> None:
    """Reject duplicate keys, recursive aliases and alias bombs before anything is constructed."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise error(file, node.start_mark.line + 1, "recursive alias")
        active.add(key)
        total = 1
        if isinstance(node, MappingNode):
            keys: set[str] = set()
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if k.value in keys:
                        raise error(file, k.start_mark.line + 1, f"duplicate key {k.value!r}")
                    keys.add(k.value)
                total += size(k) + size(v)
                if total > max_nodes:
                    break
        elif isinstance(node, SequenceNode):
            for item in node.value:
                total += size(item)
                if total > max_nodes:
                    break
        active.discard(key)
        if total > max_nodes:
            raise error(
                file,
                node.start_mark.line + 1,
                f"more than {max_nodes} YAML nodes once aliases are expanded (alias bomb?)",
            )
        sizes[key] = total
        return total

    size(root)


def _check_flow_depth(text: str, file: str, error: MakeError) -> None:
    """Reject deeply nested [ { before PyYAML sees them (quotes ignored: a conservative over-count)."""
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH:
        return
    depth = 0
    for m in re.finditer(r"[\[\]{}]", text):
        depth = depth + 1 if m.group() in "[{" else max(0, depth - 1)
        if depth > MAX_FLOW_DEPTH:
            raise error(file, line_of(text, m.start()), f"nesting deeper than {MAX_FLOW_DEPTH}")


def parse_yaml(
    text: str,
    file: str,
    error: MakeError,
    *,
    fields: str = "fields",
    mapping: bool = True,
    max_nodes: int = MAX_NODES,
) -> YamlDoc:
    """Parse with the SafeLoader. The top level must be a mapping (of `fields`) unless `mapping=False`."""
    _check_flow_depth(text, file, error)
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            raise error(file, 1, f"empty file: expected {'a mapping of ' if mapping else ''}{fields}")
        if mapping and not isinstance(node, MappingNode):
            kind = "a sequence" if isinstance(node, SequenceNode) else "a scalar"
            raise error(
                file, node.start_mark.line + 1, f"top level must be a mapping of {fields}, got {kind}"
            )
        _check_nodes(node, file, error, max_nodes)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "YAML error"
        label = "YAML syntax error" if isinstance(exc, _SYNTAX_ERRORS) else "YAML error"
        raise error(file, line, f"{label}: {reason}") from None
    except yaml.reader.ReaderError as exc:
        raise error(file, line_of(text, exc.position), f"not a text file: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise error(file, 1, f"YAML error: {exc}") from None
    except RecursionError:
        raise error(file, 1, "YAML nesting too deep") from None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDoc(file, node, data)


def _locate(root: Node, loc: tuple[Any, ...], key_line: bool) -> int:
    """1-based line of the YAML node at a pydantic error location (or its deepest existing ancestor)."""
    node = root
    line = node.start_mark.line + 1
    for i, part in enumerate(loc):
        if isinstance(node, MappingNode):
            match = next(
                ((k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == str(part)), None
            )
            if match is None:
                return line
            k, node = match
            line = (k if key_line and i == len(loc) - 1 else node).start_mark.line + 1
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def child(node: Node, key: str | int) -> Node | None:
    """The node under a mapping key or at a sequence index (None if absent)."""
    if isinstance(node, MappingNode):
        return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == str(key)), None)
    if isinstance(node, SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _reason(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key {err['loc'][-1]!r}"
    if kind == "missing":
        return f"missing field {err['loc'][-1]!r}"
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = err.get("input")
    if kind.endswith(("_type", "_parsing", "literal_error", "enum")) and not isinstance(value, dict | list):
        msg += f" (got {value!r:.60})"
    return msg


def validate_node(
    model: type[M], data: Any, node: Node, file: str, error: MakeError, *, where: str = ""
) -> M:
    """Validate data with pydantic; the first error as `Error(file, line of its node, path: reason)`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        err = errors[0]
        loc = tuple(err["loc"]) + tuple((err.get("ctx") or {}).get("path", ()))
        line = _locate(node, loc, key_line=err["type"] == "extra_forbidden")
        path = loc[:-1] if err["type"] in ("missing", "extra_forbidden") else loc
        at = _dotted(path) if path or not where else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        prefix = ": ".join(x for x in (where, at) if x)
        raise error(file, line, f"{prefix}: {_reason(err)}{more}") from None


def parse_yaml_model(text: str, model: type[M], error: MakeError, file: str = "<string>", **parse: Any) -> M:
    """Validate YAML text as `model`; `Error(file, line, reason)` on any problem."""
    doc = parse_yaml(text, file, error, **parse)
    return validate_node(model, doc.data, doc.node, file, error)


def load_yaml_model(
    path: Path | str,
    model: type[M],
    error: MakeError,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    what: str = "file",
    hint: str = "",
    **parse: Any,
) -> M:
    """Read, parse and validate a YAML file as `model`; `Error(file, line, reason)` on any problem."""
    p = Path(path)
    text = read_yaml_text(p, error, max_bytes=max_bytes, what=what, hint=hint)
    return parse_yaml_model(text, model, error, str(p), **parse)


def load_yaml(
    path: Path | str, error: MakeError, *, max_bytes: int = MAX_FILE_BYTES, **parse: Any
) -> YamlDoc:
    """Read and parse a YAML file whose parts are validated separately (e.g. a list of transcripts)."""
    p = Path(path)
    return parse_yaml(read_yaml_text(p, error, max_bytes=max_bytes), str(p), error, **parse)
