"""Structured outputs: what `output=` sends, the object as its JSON streams in, the object checked.

`Output` is built once from what a profile or a call names: a Pydantic model, a dataclass (any
type pydantic's `TypeAdapter` takes), a JSON schema dict, or an import path to one of them. It
sends the schema the SDK's `messages.parse()` sends (`anthropic.transform_schema`, which moves
what strict decoding refuses into the description and closes every object), and it checks the
final text as `parse()` does (`TypeAdapter.validate_json`); a schema dict's answer is parsed JSON,
its shape left to the API's constrained decoding (no JSON Schema validator is installed for it).

`PartialObject` follows the JSON text delta by delta. jiter's partial mode (what the SDK's
`parsed_snapshot` runs) parses only the value being written: every finished member is parsed once,
when its comma or bracket arrives, and kept; a delta costs a scan of its own characters and a
parse of the open member, not of the whole text (benchmarks/structured.py measures both).

Pure: no I/O.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

import anthropic
import pydantic
from jiter import from_json

__all__ = ["Output", "OutputInvalid", "PartialObject", "as_output", "strict_schema"]


class OutputInvalid(ValueError):
    """The answer is not the object asked for; the message says why (for the `error` event)."""


class Output:
    """A call's structured output: its `output_config.format` and the check of its answer."""

    __slots__ = ("adapter", "format", "name", "schema")

    def __init__(self, spec: Any) -> None:
        if isinstance(spec, str):
            spec = _import(spec)
        if isinstance(spec, Mapping):
            self.adapter: pydantic.TypeAdapter[Any] | None = None
            self.schema = strict_schema(spec)
            self.name = str(spec.get("title") or "the schema")
        else:
            try:
                self.adapter = pydantic.TypeAdapter(spec)
                raw = self.adapter.json_schema()
            except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError) as exc:
                raise TypeError(
                    f"output {spec!r}: give a Pydantic model, a dataclass, a type pydantic's "
                    f"TypeAdapter takes or a JSON schema dict ({exc.__class__.__name__})"
                ) from None
            self.schema = strict_schema(raw)
            self.name = str(getattr(spec, "__name__", spec))
        # The API's `output_config.format`; shared by every call of the profile and never changed.
        self.format: dict[str, Any] = {"type": "json_schema", "schema": self.schema}

    def __repr__(self) -> str:
        return f"<Output {self.name}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> Output:
        # Immutable once built: a profile copied field by field (`Profile.from_mapping`) shares it.
        return self

    def validate(self, text: str, stop_reason: str | None = None) -> Any:
        """The answer's text as the object (the model's instance, or parsed JSON for a schema dict);
        raises `OutputInvalid` naming why it is not one."""
        try:
            if self.adapter is not None:
                return self.adapter.validate_json(text)
            return from_json(text.encode())
        except (pydantic.ValidationError, ValueError) as exc:
            raise OutputInvalid(_why(self.name, exc, stop_reason)) from None

    def as_json(self, value: Any) -> Any:
        """A validated object as JSON data (what `done.object` carries)."""
        return value if self.adapter is None else self.adapter.dump_python(value, mode="json")


def as_output(value: Any) -> Output | None:
    """`output=` as an `Output`: None stays None; raises TypeError or ValueError for what is not one."""
    if value is None or isinstance(value, Output):
        return value
    return Output(value)


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON schema as strict decoding takes it (`anthropic.transform_schema`, as `parse()` sends
    it); raises ValueError for one it cannot read."""
    if not isinstance(schema, Mapping):
        raise TypeError(f"a JSON schema is a dict, not {type(schema).__name__}")
    return anthropic.transform_schema(dict(schema))


def _why(name: str, exc: Exception, stop_reason: str | None) -> str:
    if stop_reason == "max_tokens":
        return "the answer reached max_tokens before the object was complete; raise the profile's max_tokens"
    if stop_reason == "refusal":
        return "the model declined to answer, so there is no object"
    if isinstance(exc, pydantic.ValidationError):
        errors = exc.errors(include_url=False, include_input=False)
        shown = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'the object'}: {e['msg']}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return f"the answer does not match {name}: {shown}{more}"
    return f"the answer is not valid JSON: {exc}"


def _import(path: str) -> Any:
    module, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    if not module or not attr:
        raise ValueError(f"{path!r} is not an import path such as 'myapp.schemas:Card'")
    try:
        found: Any = importlib.import_module(module)
        for part in attr.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import output {path!r}: {exc}") from None
    return found


# -- the object as it fills -----------------------------------------------------------------------

# What changes the structure outside a string, and what ends or escapes inside one.
_SPECIAL = re.compile(r'[\\"{}\[\],]')
_NOTHING: Any = object()
# Characters of text below which re-parsing the whole of it costs less than scanning each delta
# (jiter parses ~1 KB in ~2 µs; the scan costs ~1.4 µs a delta at any length: benchmarks/structured.py).
SCAN_FROM = 1024


class _Frame:
    """An open object or array: its finished members, and where its open member's text begins."""

    __slots__ = ("array", "done", "key", "set", "start")

    def __init__(self, array: bool, key: Any, start: int) -> None:
        self.array = array
        self.done: Any = [] if array else {}
        # Its key in the enclosing object (None in an array, or at the top).
        self.key = key
        self.start = start
        # Whether the open member is a container already closed into `done`.
        self.set = False


class PartialObject:
    """The object a streamed JSON text has filled so far: `feed(delta)` is True when it changed,
    and `value` is a new object each time (one handed out is never changed afterwards)."""

    __slots__ = (
        "_base",
        "_complete",
        "_escape",
        "_in_string",
        "_last",
        "_scalar",
        "_scan_from",
        "_stack",
        "_text",
        "_whole",
        "value",
    )

    def __init__(self, *, scan_from: int = SCAN_FROM) -> None:
        self._scan_from = scan_from
        # Only the text from the innermost open member on is kept; `_base` is its offset.
        self._text = ""
        self._base = 0
        self._stack: list[_Frame] = []
        self._in_string = False
        self._escape = False
        self._scalar = False
        self._last: Any = _NOTHING
        self._whole = True
        self._complete = False
        self.value: Any = None

    def feed(self, delta: str) -> bool:
        if self._complete or not delta:
            return False
        if self._whole:
            # Short so far: jiter re-parses the whole text faster than the scan below runs
            # (benchmarks/structured.py); past `scan_from` characters the scan takes over.
            text = self._text = self._text + delta
            if len(text) < self._scan_from:
                return self._reparse()
            self._whole, self._text = False, ""
            delta = text
        return self._scan(delta)

    def _scan(self, delta: str) -> bool:
        start = self._base + len(self._text)
        self._text += delta
        if self._scalar or (not self._stack and not self._starts()):
            return self._scalar and self._reparse()
        structural = False
        skip = start if self._escape else -1
        self._escape = False
        end = start + len(delta)
        for match in _SPECIAL.finditer(delta):
            at = start + match.start()
            if at == skip:
                continue
            char = match.group()
            if self._in_string:
                if char == "\\":
                    skip = at + 1
                    self._escape = skip == end
                elif char == '"':
                    self._in_string = False
            elif char == '"':
                self._in_string = True
            elif char in "{[":
                self._open(at, char == "[")
                structural = True
            elif char in "}]":
                structural = True
                whole = self._close(at)
                if whole is not _NOTHING:
                    self._complete = True
                    return self._changed(whole, structural)
            elif self._stack:
                self._member_ends(self._stack[-1], at)
                self._advance(self._stack[-1], at + 1)
                structural = True
        partial = self._open_member()
        if not structural and partial == self._last:
            return False
        self._last = partial
        return self._changed(self._snapshot(partial), structural)

    # -- the scan's steps -------------------------------------------------------------------------

    def _starts(self) -> bool:
        """Before the first container: whether one opens (a scalar answer is parsed whole)."""
        head = self._text.lstrip()
        if not head:
            return False
        if head[0] not in "{[":
            self._scalar = True
            return False
        # The text before the bracket is whitespace: the scan below opens it.
        return True

    def _open(self, at: int, array: bool) -> None:
        key = None
        if self._stack:
            parent = self._stack[-1]
            if not parent.array:
                # `"tags": ` before the bracket: the key, read by jiter (escapes and all).
                head = self._text[parent.start - self._base : at - self._base]
                try:
                    key = next(iter(from_json(("{" + head + "0}").encode())), None)
                except ValueError:
                    key = None
        frame = _Frame(array, key, at + 1)
        self._stack.append(frame)
        self._advance(frame, at + 1)

    def _close(self, at: int) -> Any:
        """Close the innermost container: the whole object once it is complete, else `_NOTHING`."""
        if not self._stack:
            return _NOTHING
        frame = self._stack.pop()
        self._member_ends(frame, at)
        if not self._stack:
            return frame.done
        parent = self._stack[-1]
        if parent.array:
            parent.done.append(frame.done)
        elif frame.key is not None:
            parent.done[frame.key] = frame.done
        parent.set = True
        self._advance(parent, at + 1)
        return _NOTHING

    def _member_ends(self, frame: _Frame, at: int) -> None:
        """The member before a comma or a closing bracket is complete: parsed once, kept."""
        if frame.set:
            frame.set = False
            return
        member = self._text[frame.start - self._base : at - self._base]
        if not member.strip():
            return
        try:
            if frame.array:
                frame.done.append(from_json(member.encode()))
            else:
                frame.done.update(from_json(("{" + member + "}").encode()))
        except ValueError:
            return  # not JSON: the final check names it

    def _advance(self, frame: _Frame, start: int) -> None:
        frame.start = start
        self._text = self._text[start - self._base :]
        self._base = start

    def _open_member(self) -> Any:
        """The innermost container's open member, parsed partially (`_NOTHING` when none)."""
        if not self._stack:
            return _NOTHING
        frame = self._stack[-1]
        if frame.set:
            return _NOTHING
        member = self._text[frame.start - self._base :]
        if not member.strip():
            return _NOTHING
        try:
            if frame.array:
                return from_json(member.encode(), partial_mode="trailing-strings")
            parsed = from_json(("{" + member).encode(), partial_mode="trailing-strings")
        except ValueError:
            return _NOTHING  # a literal or number cut short (`tr`, `-`): nothing to show yet
        return parsed or _NOTHING

    def _snapshot(self, partial: Any) -> Any:
        stack = self._stack
        inner = stack[-1]
        if partial is _NOTHING:
            view = list(inner.done) if inner.array else dict(inner.done)
        elif inner.array:
            view = [*inner.done, partial]
        else:
            view = {**inner.done, **partial}
        for depth in range(len(stack) - 2, -1, -1):
            parent, child = stack[depth], stack[depth + 1]
            if parent.array:
                view = [*parent.done, view]
            else:
                view = {**parent.done, child.key: view} if child.key is not None else dict(parent.done)
        return view

    def _changed(self, value: Any, structural: bool) -> bool:
        # Only a comma or a bracket can leave the object as it was while the member parsed anew
        # (a string's closing `",`): then the whole is compared, otherwise the open member was.
        if structural and value == self.value:
            return False
        self.value = value
        return True

    def _reparse(self) -> bool:
        try:
            value = from_json(self._text.encode(), partial_mode="trailing-strings")
        except ValueError:
            return False
        return self._changed(value, True)
