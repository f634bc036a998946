"""Tools the server runs: plain Python callables, their input schema read from type hints and the
docstring (or given), and the context a long tool checks to learn that it should stop.

Pure: no I/O. `_agent/` runs them; `_profiles` resolves a profile's `tools` with `as_tools()` so a
bad entry (an import path that does not import, a lambda without a name) fails at start-up. A tool
may need the user's approval before it runs (`needs_approval=True`): the turn pauses, and the
user's answers come back as `Approval`s (`as_approvals()` checks them).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import threading
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, NamedTuple, Union

from ._errors import BadRequest
from ._structured import strict_schema

__all__ = ["Approval", "Tool", "ToolContext", "as_approvals", "as_tool", "as_tools", "is_runnable", "tool"]

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    tuple: "array",
    type(None): "null",
}


class ToolContext:
    """Handed to a tool that declares a `context: firsttoken.ToolContext` parameter.

    A sync tool runs on a thread nobody can interrupt: it checks `cancelled` (or sleeps with
    `wait()`) and returns early once the browser left or its timeout passed. Async tools get a
    cancellation as well; the context is there for them too.
    """

    __slots__ = ("_event", "id", "name")

    def __init__(self, id: str, name: str) -> None:
        self.id, self.name = id, name
        self._event = threading.Event()

    def __repr__(self) -> str:
        return f"<ToolContext {self.name} {self.id}{' cancelled' if self.cancelled else ''}>"

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking at once on cancellation; True when cancelled."""
        return self._event.wait(seconds)


class Tool:
    """A tool the engine runs: its API definition and the callable behind it.

    Build one with `firsttoken.tool(fn)` (or `@firsttoken.tool(...)`), or pass the plain callable:
    profiles and calls take either.
    """

    __slots__ = (
        "context",
        "description",
        "eager",
        "function",
        "input_schema",
        "is_async",
        "name",
        "needs_approval",
        "strict",
        "timeout",
    )

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        eager: bool = True,
        strict: bool = False,
        needs_approval: bool = False,
    ) -> None:
        if not callable(function):
            raise TypeError(f"a tool must be callable, not {type(function).__name__}")
        self.function = function
        self.name: str = name or str(getattr(function, "__name__", ""))
        if not _NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r}: 1 to 64 letters, digits, '_' or '-'; give name=...")
        summary, params = _docstring(inspect.getdoc(function) or "")
        self.description = description if description is not None else summary
        self.context = _context_parameter(function)
        self.input_schema = dict(input_schema) if input_schema is not None else _schema(function, params)
        # Strict: the model's input is decoded to the schema, so it always validates; the schema is
        # sent as the SDK's `transform_schema` makes it (closed objects, unsupported keywords moved
        # into the description).
        self.strict = strict
        if strict:
            self.input_schema = strict_schema(self.input_schema)
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise ValueError(f"tool {self.name!r}: timeout must be a positive number of seconds")
        self.timeout = timeout
        # Eager input streaming: the input arrives as the model writes it and the block ends as
        # soon as the input is complete, so the engine can start the tool before the turn ends.
        self.eager = eager
        if not isinstance(needs_approval, bool):
            raise TypeError(f"tool {self.name!r}: needs_approval must be True or False")
        # Called, the tool waits for the user's yes: its turn pauses until the next request answers.
        self.needs_approval = needs_approval
        self.is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - an instance with an async __call__
        )

    def __repr__(self) -> str:
        flags = (" async" if self.is_async else "") + (" needs_approval" if self.needs_approval else "")
        return f"<Tool {self.name}{flags}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def definition(self) -> dict[str, Any]:
        """The Messages API's tool definition."""
        out: dict[str, Any] = {"name": self.name, "input_schema": self.input_schema}
        if self.description:
            out["description"] = self.description
        if self.eager:
            out["eager_input_streaming"] = True
        if self.strict:
            out["strict"] = True
        return out

    def arguments(self, input: Any, context: ToolContext) -> dict[str, Any]:
        """The keyword arguments of one call: the model's input, and the context when asked for."""
        if not isinstance(input, Mapping):
            raise TypeError(f"the input of {self.name} must be a JSON object, not {type(input).__name__}")
        kwargs = dict(input)
        if self.context is not None:
            kwargs[self.context] = context
        return kwargs


def tool(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    input_schema: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    eager: bool = True,
    strict: bool = False,
    needs_approval: bool = False,
) -> Any:
    """`tool(fn)`, `@tool` or `@tool(name=..., timeout=..., needs_approval=True)`: a `Tool` for
    the engine to run; `strict=True` has the API decode its input to the schema (`strict: true`);
    `needs_approval` pauses the turn for the user's yes or no before it runs."""

    def build(fn: Callable[..., Any]) -> Tool:
        return Tool(
            fn,
            name=name,
            description=description,
            input_schema=input_schema,
            timeout=timeout,
            eager=eager,
            strict=strict,
            needs_approval=needs_approval,
        )

    return build if function is None else build(function)


class Approval(NamedTuple):
    """The user's answer to one tool call that needed approval: its id, yes or no, and why."""

    id: str
    approved: bool
    reason: str | None = None


# More answers than any one paused turn holds calls.
MAX_APPROVALS = 64


def as_approvals(value: Any, where: str = "approvals") -> tuple[Approval, ...]:
    """`[{"id": ..., "approved": true|false, "reason"?: ...}]` (or `Approval`s) checked; raises
    `BadRequest` naming the entry that is wrong."""
    if not isinstance(value, list | tuple) or not value:
        raise BadRequest(f"'{where}' must be a non-empty list of {{'id', 'approved'}} objects")
    if len(value) > MAX_APPROVALS:
        raise BadRequest(f"'{where}' holds more than {MAX_APPROVALS} answers")
    out: list[Approval] = []
    for i, item in enumerate(value):
        if isinstance(item, Approval):
            out.append(item)
            continue
        if not isinstance(item, Mapping):
            raise BadRequest(f"{where}[{i}] must be an object with 'id' and 'approved'")
        id, approved, reason = item.get("id"), item.get("approved"), item.get("reason")
        if not isinstance(id, str) or not _NAME.match(id):
            raise BadRequest(f"{where}[{i}].id must be the id of a tool call awaiting approval")
        if not isinstance(approved, bool):
            raise BadRequest(f"{where}[{i}].approved must be true or false")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 1000):
            raise BadRequest(f"{where}[{i}].reason must be text of at most 1000 characters")
        out.append(Approval(id, approved, reason or None))
    ids = [a.id for a in out]
    if len(set(ids)) != len(ids):
        raise BadRequest(f"'{where}' answers the same call twice")
    return tuple(out)


def is_runnable(value: Any) -> bool:
    """Whether a `tools=` entry is ours to run (a callable or a `Tool`), not an API definition."""
    return isinstance(value, Tool) or (callable(value) and not isinstance(value, Mapping))


def as_tool(value: Any) -> Tool:
    """A `Tool` from a `Tool`, a callable, or an import path (`"app.tools:clock"`, `"app.tools.clock"`)."""
    if isinstance(value, Tool):
        return value
    if isinstance(value, str):
        value = _import(value)
        if isinstance(value, Tool):
            return value
    if not callable(value) or isinstance(value, Mapping | type):
        raise TypeError(f"a tool is a callable, a firsttoken.Tool or an import path, not {value!r}")
    return Tool(value)


def as_tools(values: Iterable[Any]) -> tuple[Tool, ...]:
    tools = tuple(as_tool(v) for v in values)
    names = [t.name for t in tools]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two tools are named {twice[0]!r}")
    return tools


def _import(path: str) -> Any:
    module, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    if not module or not attr:
        raise ValueError(f"{path!r} is not an import path such as 'myapp.tools:clock'")
    try:
        found = importlib.import_module(module)
        for part in attr.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import tool {path!r}: {exc}") from None
    return found


def to_json(value: Any) -> Any:
    """A tool's return value as JSON-able data (what the browser is shown)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        loaded: Any = json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)
    return loaded


def result_content(value: Any) -> str:
    """A tool's return value as the text of its `tool_result` block."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


# -- the schema from the signature --------------------------------------------------------------


def _is_context(hint: Any) -> bool:
    if isinstance(hint, str):
        return "ToolContext" in hint
    return hint is ToolContext or ToolContext in typing.get_args(hint)


def _context_parameter(function: Callable[..., Any]) -> str | None:
    for param in _parameters(function):
        if _is_context(param.annotation):
            return param.name
    return None


def _parameters(function: Callable[..., Any]) -> list[inspect.Parameter]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    return [
        p
        for p in signature.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY)
    ]


def _schema(function: Callable[..., Any], described: Mapping[str, str]) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception:  # an annotation that does not resolve: no types, names only
        hints = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in _parameters(function):
        hint = hints.get(param.name, param.annotation)
        if _is_context(hint) or _is_context(param.annotation):
            continue
        prop = _type_schema(hint)
        if param.name in described:
            prop.setdefault("description", described[param.name])
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        elif isinstance(param.default, str | int | float | bool):
            prop["default"] = param.default
        properties[param.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _type_schema(hint: Any) -> dict[str, Any]:
    if hint is inspect.Parameter.empty or hint is Any:
        return {}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        inner = _type_schema(args[0])
        notes = [a for a in args[1:] if isinstance(a, str)]
        return {**inner, "description": notes[0]} if notes else inner
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        if len(kept) == 1:
            return _type_schema(kept[0])
        return {"anyOf": [_type_schema(a) for a in kept]}
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
        items = _type_schema(args[0]) if args and args[0] is not Ellipsis else {}
        return {"type": "array", **({"items": items} if items else {})}
    if origin is dict or origin is Mapping or hint is dict:
        return {"type": "object"}
    found = _JSON_TYPES.get(hint)
    return {"type": found} if found else {}


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params):\s*$", re.MULTILINE)
_PARAM = re.compile(r"^\s+(\*{0,2}\w+)(?:\s*\([^)]*\))?:\s*(.+)$")


def _docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description (everything before an `Args:` section) and each parameter's line in it."""
    found = _SECTION.search(doc)
    if found is None:
        return doc.strip(), {}
    params: dict[str, str] = {}
    last = None
    for line in doc[found.end() :].splitlines():
        if not line.strip():
            continue
        if not line.startswith((" ", "\t")):
            break
        match = _PARAM.match(line)
        if match:
            last = match.group(1)
            params[last] = match.group(2).strip()
        elif last is not None:
            params[last] += " " + line.strip()
    return doc[: found.start()].strip(), params
