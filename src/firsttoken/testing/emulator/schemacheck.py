"""The API's 400s for structured outputs: `output_config.format` and `strict: true` tools.

Structured outputs take a subset of JSON Schema (the "JSON Schema limitations" of the docs'
structured-outputs page): the basic types, `enum` of primitives, `const`, `anyOf`, `allOf`, local
`$ref`/`$defs`, `required`, `additionalProperties: false` (which every object must state), the
string formats below, simple `pattern`s and `minItems` of 0 or 1. Numeric bounds, string lengths,
other array and object bounds, recursion and external references are refused, with messages in
the API's words (`output_config.format.schema: For 'integer' type, property 'minimum' is not
supported`). The SDK's `transform_schema` (which `messages.parse` runs) moves these keywords into
the description, so only a hand-written schema meets these errors.
"""

from __future__ import annotations

import re
from typing import Any

from .blocks import model_version
from .protocol import ApiError

__all__ = ["STRING_FORMATS", "check_structured", "output_schema", "resolve", "strict_tools"]

STRING_FORMATS = frozenset(
    ("date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid")
)
TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")
# Claude 4.5 brought structured outputs; older models answer with the API's 400.
SUPPORTED_SINCE = (4, 5)
MAX_STRICT_TOOLS = 20
MAX_OPTIONAL = 24
MAX_UNIONS = 16
_ANNOTATIONS = frozenset(("description", "title", "default", "examples", "$comment", "$schema", "$id"))
_KEYWORDS = frozenset(
    (
        "type",
        "enum",
        "const",
        "anyOf",
        "allOf",
        "$ref",
        "$defs",
        "definitions",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "format",
        "pattern",
    )
)
# The regex features grammar-constrained sampling cannot follow.
_HARD_PATTERN = re.compile(r"\\[1-9bBk]|\(\?[=!<]")


def _bad(message: str) -> ApiError:
    return ApiError("invalid_request_error", message)


def output_schema(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The request's `output_config.format.schema`, or None when it asks for no format."""
    config = raw.get("output_config")
    if not isinstance(config, dict):
        return None
    fmt = config.get("format")
    if not isinstance(fmt, dict):
        return None
    schema = fmt.get("schema")
    return schema if isinstance(schema, dict) else None


def strict_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tools if t.get("strict") is True]


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its local `$ref` followed (refs were checked before this is called)."""
    seen = 0
    while isinstance(schema.get("$ref"), str) and seen < 64:
        _, _, path = schema["$ref"].partition("#/")
        node: Any = root
        for part in path.split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
        schema = node if isinstance(node, dict) else {}
        seen += 1
    return schema


def check_structured(raw: dict[str, Any], model: str) -> None:
    """Every structured-output 400 of the request: its format, its strict tools, their sizes."""
    config = raw.get("output_config")
    schemas: list[tuple[dict[str, Any], str]] = []
    if isinstance(config, dict) and config.get("format") is not None:
        fmt = config["format"]
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            raise _bad("output_config.format.type: Input should be 'json_schema'")
        if "schema" not in fmt:
            raise _bad("output_config.format.schema: Field required")
        if not isinstance(fmt["schema"], dict):
            raise _bad("output_config.format.schema: Input should be a valid dictionary")
        schemas.append((fmt["schema"], "output_config.format.schema"))
    tools = raw.get("tools") or []
    strict = 0
    for i, tool in enumerate(tools):
        if "strict" in tool and not isinstance(tool["strict"], bool):
            raise _bad(f"tools.{i}.custom.strict: Input should be a valid boolean")
        if tool.get("strict") is not True:
            continue
        strict += 1
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise _bad(f"tools.{i}.custom.input_schema: Field required")
        if schema.get("type") != "object":
            raise _bad(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
        schemas.append((schema, f"tools.{i}.custom.input_schema"))
    if not schemas:
        return
    version = model_version(model)
    if version is not None and version < SUPPORTED_SINCE:
        raise _bad(f"'{model}' does not support structured outputs (output_config.format and strict tools).")
    if strict > MAX_STRICT_TOOLS:
        raise _bad(
            f"Too many strict tools: {strict}. At most {MAX_STRICT_TOOLS} tools with `strict: true` "
            "are supported per request."
        )
    if schemas[0][1].startswith("output_config") and _cites(raw):
        raise _bad("Citations are not supported with output_config.format (structured outputs).")
    counts = [0, 0]
    for schema, where in schemas:
        _Checker(schema, where, counts).check(schema, where, ())
    optional, unions = counts
    if optional > MAX_OPTIONAL:
        raise _bad(
            f"Schemas contain too many optional parameters ({optional}); at most {MAX_OPTIONAL} are "
            "supported across all strict schemas of a request. Mark more parameters as required."
        )
    if unions > MAX_UNIONS:
        raise _bad(
            f"Schemas contain too many parameters with union types ({unions}); at most {MAX_UNIONS} "
            "parameters using `anyOf` or type arrays are supported across all strict schemas of a request."
        )


def _cites(raw: dict[str, Any]) -> bool:
    for message in raw.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and (block.get("citations") or {}).get("enabled"):
                return True
    return False


class _Checker:
    def __init__(self, root: dict[str, Any], where: str, counts: list[int]) -> None:
        self.root = root
        self.where = where
        self.counts = counts

    def fail(self, message: str) -> ApiError:
        return _bad(f"{self.where}: {message}")

    def check(self, schema: Any, path: str, refs: tuple[str, ...]) -> None:
        if not isinstance(schema, dict):
            raise self.fail(f"Schema at {path!r} must be an object")
        # Definitions are checked where a `$ref` reaches them, so each use counts toward the limits.
        ref = schema.get("$ref")
        if ref is not None:
            if not isinstance(ref, str) or not ref.startswith(("#/$defs/", "#/definitions/")):
                raise self.fail(
                    f"External $ref is not supported: {ref!r}. Use a local '#/$defs/...' reference."
                )
            if ref in refs:
                raise self.fail(f"Recursive schemas are not supported: {ref!r} refers to itself.")
            target = resolve({"$ref": ref}, self.root)
            if not target:
                raise self.fail(f"$ref {ref!r} does not resolve to a definition in this schema.")
            self.check(target, ref, (*refs, ref))
            return
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
        for k in kinds:
            if k not in TYPES:
                raise self.fail(f"Unsupported type {k!r}; expected one of {', '.join(TYPES)}")
        named = "/".join(kinds) if kinds else "any"
        for key in schema:
            if key not in _KEYWORDS and key not in _ANNOTATIONS:
                raise self.fail(f"For '{named}' type, property '{key}' is not supported")
        if "enum" in schema:
            values = schema["enum"]
            if not isinstance(values, list) or not values:
                raise self.fail("'enum' must be a non-empty list")
            if not all(v is None or isinstance(v, str | int | float | bool) for v in values):
                raise self.fail("'enum' values must be strings, numbers, booleans or null")
        for union in ("anyOf", "allOf"):
            if union in schema:
                branches = schema[union]
                if not isinstance(branches, list) or not branches:
                    raise self.fail(f"'{union}' must be a non-empty list of schemas")
                if union == "allOf" and any(isinstance(b, dict) and "$ref" in b for b in branches):
                    raise self.fail("'allOf' with '$ref' is not supported")
                for n, branch in enumerate(branches):
                    self.check(branch, f"{path}.{union}.{n}", refs)
        if "object" in kinds or "properties" in schema:
            self._object(schema, path, refs)
        if "array" in kinds or "items" in schema:
            if schema.get("minItems", 0) not in (0, 1):
                raise self.fail("For 'array' type, 'minItems' values other than 0 or 1 are not supported")
            if "items" in schema:
                self.check(schema["items"], f"{path}.items", refs)
        if "format" in schema and schema["format"] not in STRING_FORMATS:
            raise self.fail(
                f"For 'string' type, format {schema['format']!r} is not supported; supported formats: "
                + ", ".join(sorted(STRING_FORMATS))
            )
        if "pattern" in schema:
            pattern = schema["pattern"]
            try:
                re.compile(pattern)
            except (re.error, TypeError):
                raise self.fail(f"Invalid regular expression in 'pattern': {pattern!r}") from None
            if _HARD_PATTERN.search(pattern):
                raise self.fail(
                    f"For 'string' type, pattern {pattern!r} is not supported: backreferences, "
                    "lookaround and word boundaries are not supported in patterns"
                )

    def _object(self, schema: dict[str, Any], path: str, refs: tuple[str, ...]) -> None:
        if schema.get("additionalProperties") is not False:
            raise self.fail(
                f"For 'object' type, 'additionalProperties' must be explicitly set to false (at {path!r})"
            )
        props = schema.get("properties") or {}
        if not isinstance(props, dict):
            raise self.fail("'properties' must be an object")
        required = schema.get("required") or []
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise self.fail("'required' must be a list of property names")
        missing = [r for r in required if r not in props]
        if missing:
            raise self.fail(f"Required properties {missing!r} are not defined in 'properties' (at {path!r})")
        for name, sub in props.items():
            if name not in required:
                self.counts[0] += 1
            if isinstance(sub, dict) and ("anyOf" in sub or isinstance(sub.get("type"), list)):
                self.counts[1] += 1
            self.check(sub, f"{path}.properties.{name}", refs)
