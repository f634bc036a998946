"""One call of the engine, parsed once: the typed spec that everything after the public call reads.

`engine.stream(messages=..., profile="chat", max_tokens=...)` and the other public calls take
keyword arguments as the Messages API does; `CallBuilder.build()` turns them into one `Call`, as
httpx's `build_request()` turns `client.get(...)` into one `Request` and the anthropic SDK builds
one `FinalRequestOptions`: the profile merged with the call's overrides (its resilience fields and
cache placement inputs included), the Messages API arguments with the profile's filled in, the
tools the server runs and the route label. The fallback chain, the cache policy, the agent loop
and the streams read it; nothing after the builder takes an argument out of a dict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from ._profiles import THREADS_BETA, Profile
from ._settings import Settings
from ._tools import Approval, Tool, as_approvals, as_tools, is_runnable

__all__ = ["OVERRIDES", "Call", "CallBuilder"]

# The profile fields a call may override (`max_tokens=...` on nearly every call): what it sends,
# its fallbacks and its agent turn's limits. Every other argument is the Messages API's own.
OVERRIDES = frozenset(
    {
        "model",
        "max_tokens",
        "temperature",
        "speed",
        "timeout",
        "concise",
        "thinking",
        "thinking_display",
        "fallbacks",
        "continue_on_fallback",
        "on_rate_limit",
        "queue_timeout",
        "max_steps",
        "tool_timeout",
        "output",
        "hedge_after",
        "hedge_share",
    }
)
_NO_TOOLS: Mapping[str, Tool] = MappingProxyType({})
# What a thread keeps from its `create`, which a `continue` must leave out (the API's 400).
_THREAD_KEEPS = ("system", "tools")


class Call(NamedTuple):
    """One call, as built from its arguments; read by everything after, changed by nothing."""

    # A tuple, not a frozen dataclass (as `Placement` is): built on every call's way out, and every
    # step of an agent turn, in a third of the time (0.31 against 0.96 µs here).

    # The profile's name (the records, the advice, the registered cache prefix).
    profile: str
    # The profile with this call's overrides: the model and budget asked for, the resilience fields
    # (fallbacks, continue_on_fallback, on_rate_limit, queue_timeout), the cache placement inputs
    # (caching, cache_ttl), an agent turn's max_steps and tool_timeout.
    options: Profile
    # The Messages API arguments, before the cache breakpoints: the caller's (messages, system,
    # metadata, tool definitions...) with the profile's model, budget, thinking, timeout filled in.
    params: Mapping[str, Any]
    # The tools the server runs, by name: with any, the call is an agent turn.
    tools: Mapping[str, Tool]
    # The label `engine.route()` chose, for the call's records.
    route: str | None = None
    # Keys the response cache of `create()`; never sent upstream.
    tenant: str | None = None
    # The user's answers to a paused turn's approvals (`Approval`s): the turn goes on from them.
    approvals: tuple[Approval, ...] = ()

    @property
    def messages(self) -> Sequence[Mapping[str, Any]]:
        return self.params["messages"]  # type: ignore[no-any-return]

    def step(self, messages: Sequence[Mapping[str, Any]]) -> Call:
        """One model call of this agent turn: `messages` sent, the tools as API definitions only."""
        params = MappingProxyType({**self.params, "messages": list(messages)})
        return Call(self.profile, self.options, params, _NO_TOOLS, self.route, self.tenant)

    @property
    def threaded(self) -> bool:
        """Whether the call goes on an API thread (a held chat's turn with `threads` on)."""
        return "thread" in (self.params.get("extra_body") or {})

    def continued(self, previous_id: str, messages: Sequence[Mapping[str, Any]]) -> Call:
        """The next model call of a threaded agent turn: a `continue` from the step `previous_id`
        with only `messages` (the tool results), the thread keeping the system prompt and tools."""
        params = {k: v for k, v in self.params.items() if k not in _THREAD_KEEPS}
        params["messages"] = list(messages)
        thread = {"type": "continue", "previous_message_id": previous_id}
        params["extra_body"] = {**(params.get("extra_body") or {}), "thread": thread}
        return Call(self.profile, self.options, MappingProxyType(params), _NO_TOOLS, self.route, self.tenant)


class CallBuilder:
    """Builds every call of one engine from its settings' profiles."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # Profiles with per-call overrides (`max_tokens=...` on nearly every call), validated once.
        self._overridden: dict[tuple[Any, ...], Profile] = {}

    def build(
        self,
        profile: str | None,
        arguments: Mapping[str, Any],
        *,
        route: str | None = None,
        runs_tools: bool = True,
    ) -> Call:
        """The `Call` these keyword arguments make; a bad profile or override raises here.

        `runs_tools=False` (`create()`) refuses tools the server would run, and leaves the
        profile's out: one Message cannot hold a turn.
        """
        name = profile or self._settings.default_profile
        chosen = self._settings.profile(name)
        overrides: dict[str, Any] = {}
        params: dict[str, Any] = {}
        tenant = None
        approvals: tuple[Approval, ...] = ()
        for key, value in arguments.items():
            if key in OVERRIDES:
                overrides[key] = value
            elif key == "tenant":
                tenant = value
            elif key == "approvals":
                approvals = as_approvals(value)
            else:
                params[key] = value
        if overrides:
            chosen = self._override(name, chosen, overrides)
        if "messages" not in params:
            raise TypeError("a call needs messages=[{'role': 'user', 'content': ...}]")
        tools = _tools(chosen, params) if runs_tools else _refuse_runnable(params)
        if approvals and not runs_tools:
            raise TypeError("approvals= answer a paused agent turn: use engine.stream() or astream()")
        sent = MappingProxyType(self._sent(chosen, params))
        return Call(name, chosen, sent, tools, route, tenant, approvals)

    def gathered(self, arguments: Mapping[str, Any]) -> Call | BaseException:
        """One call of `gather()`: built, or the error its arguments raised, left in its place."""
        rest = dict(arguments)
        try:
            return self.build(rest.pop("profile", None), rest, runs_tools=False)
        except Exception as exc:
            return exc

    def _override(self, name: str, chosen: Profile, overrides: dict[str, Any]) -> Profile:
        fallbacks = overrides.get("fallbacks")
        if fallbacks is not None and not isinstance(fallbacks, str):
            overrides["fallbacks"] = tuple(fallbacks)
        key = (name, *sorted(overrides.items()))
        try:
            cached = self._overridden.get(key)
        except TypeError:  # an unhashable override value: build it every time
            return chosen.replace(**overrides)
        if cached is None:
            if len(self._overridden) >= 256:
                self._overridden.clear()
            cached = self._overridden[key] = chosen.replace(**overrides)
        return cached

    def _sent(self, chosen: Profile, given: dict[str, Any]) -> dict[str, Any]:
        """The Messages API arguments: the caller's, with what the profile sends filled in."""
        params: dict[str, Any] = {"model": chosen.model, "max_tokens": chosen.max_tokens, **given}
        if chosen.temperature is not None:
            # The installed SDK's `create()` has no `temperature` argument; the API reads it from
            # the body, so it travels there, unless the caller already put one in `extra_body`.
            extra = dict(params.get("extra_body") or {})
            extra.setdefault("temperature", chosen.temperature)
            params["extra_body"] = extra
        if chosen.speed is not None:
            params.setdefault("speed", chosen.speed)
        for key, value in chosen.thinking_params().items():
            params.setdefault(key, value)
        if chosen.output is not None:
            # Beside what thinking put there (its effort), as the SDK's `parse()` merges it.
            params["output_config"] = {**(params.get("output_config") or {}), "format": chosen.output.format}
        params.setdefault("timeout", chosen.timeout or self._settings.timeout)
        if chosen.concise:
            params["system"] = _with_instruction(params.get("system"), chosen.concise)
        if chosen.mcp_servers:
            _with_mcp(params, chosen.mcp_servers)
        # Last: a thread's `continue` leaves out the tools the MCP servers added too.
        _beta_fields(params, chosen)
        return params


def _beta_fields(params: dict[str, Any], chosen: Profile) -> None:
    """The beta fields a call sends (a held chat's `thread`, the profile's `context_management`),
    moved into `extra_body`, and their betas into the `anthropic-beta` header: the SDK's
    `messages.create()` takes neither as an argument. On a `continue` the system prompt and the
    tools stay out: the thread keeps those it was created with (the API's 400 otherwise)."""
    betas = list(params.pop("betas", None) or ())
    extra: dict[str, Any] = {}
    thread = params.pop("thread", None)
    if thread is not None:
        extra["thread"] = thread
        betas.append(THREADS_BETA)
        if isinstance(thread, Mapping) and thread.get("type") == "continue":
            for key in _THREAD_KEEPS:
                params.pop(key, None)
    context = chosen.context_params()
    if "context_management" in params or context:
        extra["context_management"] = params.pop("context_management", None) or context["context_management"]
        betas += context.get("betas", ())
    if extra:
        params["extra_body"] = {**(params.get("extra_body") or {}), **extra}
    if betas:
        headers = dict(params.get("extra_headers") or {})
        given = [b.strip() for b in str(headers.get("anthropic-beta", "")).split(",") if b.strip()]
        headers["anthropic-beta"] = ",".join(dict.fromkeys([*given, *betas]))
        params["extra_headers"] = headers


def _tools(chosen: Profile, params: dict[str, Any]) -> Mapping[str, Tool]:
    """The tools the server runs (the profile's, then the callables of `tools=`), by name.

    They leave `tools=` for their API definitions, after the profile's; plain definitions stay
    (the model may call them; the turn then ends, as a plain call would).
    """
    given = params.get("tools") or ()
    passed = [t for t in given if is_runnable(t)]
    if not chosen.tools and not passed:
        return _NO_TOOLS
    tools = as_tools((*chosen.tools, *passed))
    params["tools"] = [*(t.definition() for t in tools), *(t for t in given if not is_runnable(t))]
    return MappingProxyType({t.name: t for t in tools})


def _refuse_runnable(params: Mapping[str, Any]) -> Mapping[str, Tool]:
    if any(is_runnable(t) for t in params.get("tools") or ()):
        raise TypeError(
            "tools the server runs (callables, firsttoken.tool) need an agent turn: "
            "use engine.stream() or astream(); create() sends API tool definitions only"
        )
    return _NO_TOOLS


MCP_BETA = "mcp-client-2025-11-20"


def _with_mcp(params: dict[str, Any], servers: tuple[Mapping[str, Any], ...]) -> None:
    """The profile's MCP servers in the body (`extra_body`, which the SDK's non-beta `create()`
    has no argument for), an `mcp_toolset` for each the call's tools leave out, and the beta."""
    extra = dict(params.get("extra_body") or {})
    extra.setdefault("mcp_servers", [dict(s) for s in servers])
    params["extra_body"] = extra
    tools = list(params.get("tools") or ())
    named = {
        t.get("mcp_server_name") for t in tools if isinstance(t, Mapping) and t.get("type") == "mcp_toolset"
    }
    tools += [
        {"type": "mcp_toolset", "mcp_server_name": s["name"]} for s in servers if s["name"] not in named
    ]
    params["tools"] = tools
    headers = dict(params.get("extra_headers") or {})
    betas = [b.strip() for b in str(headers.get("anthropic-beta") or "").split(",") if b.strip()]
    if MCP_BETA not in betas:
        headers["anthropic-beta"] = ",".join([*betas, MCP_BETA])
    params["extra_headers"] = headers


def _with_instruction(system: Any, instruction: str) -> Any:
    if system is None or system == "":
        return instruction
    if isinstance(system, str):
        return f"{system}\n\n{instruction}"
    # A list of blocks: the instruction goes last, after any cache breakpoint, so it never changes
    # the cached prefix.
    return [*system, {"type": "text", "text": instruction}]
