"""Tools the API runs, through the engine and every wire format: each kind's call and result with
`server: true` (the AI SDK's `providerExecuted`), `pause_turn` continued within the turn,
`server_tool_use` and `cost_usd` in `done`, the metrics' counter, and the AI SDK's server tool
parts going back upstream as the API's blocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from firsttoken import Engine, Settings, SettingsError, parse_chat_request
from firsttoken._pricing import CostModel
from firsttoken._prometheus import render_prometheus
from firsttoken._telemetry import collect_calls
from firsttoken.testing.emulator import Emulator
from firsttoken.testing.emulator.servertools import MCP_BETA
from tests.tools import WEATHER

FETCH = {"type": "web_fetch_20250910", "name": "web_fetch"}
SEARCH = {"type": "web_search_20250305", "name": "web_search"}
MCP = {
    "tools": [{"type": "mcp_toolset", "mcp_server_name": "docs"}],
    "extra_body": {"mcp_servers": [{"type": "url", "url": "https://mcp.example.com/mcp", "name": "docs"}]},
    "extra_headers": {"anthropic-beta": MCP_BETA},
}


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# Each kind: the call's arguments, and the names of the server tools' calls it streams.
KINDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "web search": ({"tools": [SEARCH], "messages": ask("Latest on streaming latency?")}, ["web_search"]),
    "web fetch": ({"tools": [FETCH], "messages": ask("Read https://example.com/a please.")}, ["web_fetch"]),
    "code execution": (
        {
            "tools": [{"type": "code_execution_20250825", "name": "code_execution"}],
            "messages": ask("Run 6*7"),
        },
        ["text_editor_code_execution", "bash_code_execution"],
    ),
    "tool search": (
        {
            "tools": [
                {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"},
                {**WEATHER, "defer_loading": True},
            ],
            "messages": ask("What is the weather in Paris? Use get_weather."),
        },
        ["tool_search_tool_bm25"],
    ),
    "mcp": ({**MCP, "messages": ask("Ask docs about caching.")}, ["search"]),
}


def events(body: str) -> list[tuple[str, Any]]:
    out = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def relayed(engine: Engine, format: str, call: dict[str, Any]) -> str:
    relay = engine.relay(format=format, **call)
    assert relay.open().status == 200
    return b"".join(relay).decode()


@pytest.mark.parametrize("kind", list(KINDS))
def test_sse_and_ndjson_mark_every_server_tool_call_and_result(engine: Engine, kind: str) -> None:
    call, names = KINDS[kind]
    sse = events(relayed(engine, "sse", call))
    calls = [d for n, d in sse if n == "tool_call" and d.get("server")]
    results = [d for n, d in sse if n == "tool_result"]
    assert [c["name"] for c in calls] == names
    assert [r["id"] for r in results] == [c["id"] for c in calls]
    assert all(r["server"] is True and r["is_error"] is False for r in results)
    assert [r["name"] for r in results] == names
    inputs = [d for n, d in sse if n == "tool_input" and d["id"] == calls[0]["id"]]
    assert inputs and all(d["server"] is True for d in inputs)
    assert json.loads("".join(d["delta"] for d in inputs)) == calls[0]["input"]
    done = sse[-1][1]
    assert sse[-1][0] == "done" and done["cost_usd"] > 0
    if kind == "mcp":
        assert calls[0]["server_name"] == "docs" and results[0]["output"][0]["type"] == "text"
    if kind == "tool search":
        assert results[0]["output"]["tool_references"] == [
            {"type": "tool_reference", "tool_name": "get_weather"}
        ]
        assert [d["name"] for n, d in sse if n == "tool_call" and not d.get("server")] == ["get_weather"]
    lines = [json.loads(line) for line in relayed(engine, "ndjson", call).splitlines()]
    tool_results = [line for line in lines if line["type"] == "tool_result"]
    assert [r["name"] for r in tool_results] == names and all(r["server"] for r in tool_results)
    assert lines[-1]["type"] == "done" and lines[-1]["cost_usd"] == done["cost_usd"]


def test_done_counts_server_tool_use_and_prices_it(engine: Engine) -> None:
    call, _ = KINDS["web search"]
    with collect_calls() as rows:
        done = events(relayed(engine, "sse", call))[-1][1]
    assert done["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 0}
    # The request's row (the Debug Toolbar panel's) prices the call as `done` does.
    assert [row["cost_usd"] for row in rows] == [done["cost_usd"]]
    with engine.stream(**call) as stream:
        stream.text()
        usage = stream.message.usage
    # The same answer again: its input read from no cache, its tokens and its one search priced.
    per_token = CostModel().price(stream.model)
    tokens = usage.input_tokens + usage.output_tokens * 5
    assert done["cost_usd"] == pytest.approx(per_token * tokens + 0.01, abs=1e-6)
    fetched = events(relayed(engine, "sse", KINDS["web fetch"][0]))[-1][1]
    assert fetched["server_tool_use"]["web_fetch_requests"] == 1
    plain = events(relayed(engine, "sse", {"messages": ask("hello")}))[-1][1]
    assert "server_tool_use" not in plain and 0 < plain["cost_usd"] < done["cost_usd"]


def test_the_metrics_add_up_what_done_prices(engine: Engine) -> None:
    # The dashboard's cost per hour and the snapshot's `cost_usd` are the answers' `done` prices.
    before = engine.metrics_snapshot()["total"]["cost_usd"]
    calls = (KINDS["web search"][0], {"messages": ask("hello")})
    dones = [events(relayed(engine, "sse", call))[-1][1] for call in calls]
    after = engine.metrics_snapshot()["total"]["cost_usd"]
    assert after - before == pytest.approx(sum(done["cost_usd"] for done in dones), abs=1e-5)
    assert after - before > 0.01  # the search's own price is in it
    # The scrape's counter (Grafana's cost per hour) is the same sum, per model.
    scraped = [
        float(line.rsplit(" ", 1)[1])
        for line in engine.prometheus()[0].decode().splitlines()
        if line.startswith("firsttoken_cost_usd_total{")
    ]
    assert sum(scraped) == pytest.approx(after, abs=1e-5)


def test_cost_prices_cache_reads_and_writes_by_ttl() -> None:
    costs = CostModel()
    price = costs.price("claude-sonnet-5")
    usage = {
        "input_tokens": 100,
        "output_tokens": 10,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 300,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
        "server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 2},
    }
    expected = price * (100 + 1000 * 0.1 + 100 * 1.25 + 200 * 2.0 + 10 * 5) + 0.03
    assert costs.answer_cost("claude-sonnet-5", usage) == pytest.approx(expected)
    # Without the split, the writes are priced at the profile's TTL.
    del usage["cache_creation"]
    assert costs.answer_cost("claude-sonnet-5", usage, ttl="1h") == pytest.approx(
        price * (100 + 100 + 300 * 2.0 + 50) + 0.03
    )


def test_pause_turn_is_continued_within_the_turn(engine: Engine, emulator: Emulator) -> None:
    call = {"tools": [SEARCH], "messages": ask("Research streaming latency in depth.")}
    sse = events(relayed(engine, "sse", call))
    # Two upstream requests, one answer: the paused answer went back as is, with no user turn.
    sent = [r for r in emulator.requests if r["path"] == "/v1/messages"]
    assert len(sent) == 2 and all(r["status"] == 200 for r in sent)
    names = [n for n, _ in sse]
    assert names.count("tool_result") == 1 and "token" in names[names.index("tool_result") :]
    done = sse[-1][1]
    assert done["stop_reason"] == "end_turn" and done["steps"] == 2
    assert done["server_tool_use"]["web_search_requests"] == 1
    with engine.stream(**call) as stream:
        text = stream.text()
        assert stream.steps == 2 and stream.stop_reason == "end_turn"
        assert [m["role"] for m in stream.messages] == ["user", "assistant"]
    assert text


def test_pause_turn_stops_at_the_step_bound(engine: Engine) -> None:
    call = {"tools": [SEARCH], "messages": ask("Research streaming latency in depth."), "max_steps": 1}
    done = events(relayed(engine, "sse", call))[-1][1]
    assert done["stop_reason"] == "pause_turn" and done["max_steps_reached"] is True


async def test_pause_turn_is_continued_in_an_async_agent_turn(engine: Engine, emulator: Emulator) -> None:
    def clock() -> str:
        """The current time."""
        return "12:00"

    call = {"tools": [SEARCH, clock], "messages": ask("Research streaming latency in depth.")}
    async with engine.astream(**call) as turn:
        text = await turn.text()
    assert text and turn.steps == 2 and turn.stop_reason == "end_turn"
    assert turn.usage["server_tool_use"]["web_search_requests"] == 1


def test_create_continues_a_paused_turn_into_one_message(engine: Engine, emulator: Emulator) -> None:
    call = {"tools": [SEARCH], "messages": ask("Research streaming latency in depth."), "max_tokens": 400}
    with collect_calls() as rows:
        message = engine.create(**call)
    # The emulator ends the turn only for the paused answer sent back as is, with no user turn after.
    sent = [r for r in emulator.requests if r["path"] == "/v1/messages"]
    assert len(sent) == 2 and all(r["status"] == 200 for r in sent)
    kinds = [b.type for b in message.content]
    assert kinds[:2] == ["server_tool_use", "web_search_tool_result"] and kinds[-1] == "text"
    assert message.stop_reason == "end_turn"
    # One answer's usage over both calls; each call is a record (and a metrics row) of its own.
    assert (
        message.usage.server_tool_use is not None and message.usage.server_tool_use.web_search_requests == 1
    )
    assert len(rows) == 2 and not any(r["streamed"] for r in rows)
    assert message.usage.input_tokens == sum(r["input_tokens"] for r in rows)
    assert message.usage.output_tokens == sum(r["output_tokens"] for r in rows)


async def test_acreate_continues_a_paused_turn_within_the_step_bound(
    engine: Engine, emulator: Emulator
) -> None:
    call = {"tools": [SEARCH], "messages": ask("Research streaming latency in depth."), "max_tokens": 400}
    message = await engine.acreate(**call)
    assert message.stop_reason == "end_turn" and message.content[-1].type == "text"
    assert len([r for r in emulator.requests if r["path"] == "/v1/messages"]) == 2
    emulator.reset()
    stopped = await engine.acreate(**call, max_steps=1)
    assert stopped.stop_reason == "pause_turn"
    assert len([r for r in emulator.requests if r["path"] == "/v1/messages"]) == 1


def test_ai_sdk_parts_of_server_tools(engine: Engine) -> None:
    for kind in ("web fetch", "mcp", "code execution"):
        body = relayed(engine, "ai-sdk", KINDS[kind][0])
        parts = [json.loads(line[6:]) for line in body.split("\n\n") if line.startswith("data: {")]
        starts = [p for p in parts if p["type"] == "tool-input-start"]
        outputs = [p for p in parts if p["type"] == "tool-output-available"]
        assert starts and all(p["providerExecuted"] is True for p in starts + outputs)
        assert [p["toolCallId"] for p in outputs] == [p["toolCallId"] for p in starts]
        if kind == "mcp":
            available = next(p for p in parts if p["type"] == "tool-input-available")
            assert available["providerMetadata"] == {"anthropic": {"mcpServerName": "docs"}}
    refused = {
        "tools": [{**FETCH, "allowed_domains": ["example.org"]}],
        "messages": ask("Read https://example.com/a"),
    }
    body = relayed(engine, "ai-sdk", refused)
    assert '"type":"tool-output-error"' in body and '"errorText":"url_not_allowed"' in body


def _ui(call_id: str, name: str, part: dict[str, Any]) -> dict[str, Any]:
    return {"type": f"tool-{name}", "toolCallId": call_id, "providerExecuted": True, **part}


@pytest.mark.parametrize("kind", ["web fetch", "tool search", "mcp"])
def test_ai_sdk_server_tool_parts_go_back_as_the_apis_blocks(engine: Engine, kind: str) -> None:
    call, names = KINDS[kind]
    with engine.stream(**call) as stream:
        stream.text()
        # Built without validation: an MCP block (beta only) stays the dict it arrived as.
        blocks = [b if isinstance(b, dict) else b.model_dump() for b in stream.message.content]
    use = next(b for b in blocks if b["type"] in ("server_tool_use", "mcp_tool_use"))
    result = next(b for b in blocks if b["type"].endswith("_tool_result"))
    part = {"state": "output-available", "input": use["input"], "output": result["content"]}
    if kind == "mcp":
        part["callProviderMetadata"] = {"anthropic": {"mcpServerName": "docs"}}
    ui = {
        "id": "chat",
        "messages": [
            {"id": "u1", "role": "user", "parts": [{"type": "text", "text": call["messages"][0]["content"]}]},
            {
                "id": "a1",
                "role": "assistant",
                "parts": [{"type": "step-start"}, _ui(use["id"], names[0], part)],
            },
            {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "Thanks!"}]},
        ],
    }
    chat = parse_chat_request(json.dumps(ui), protocol="ai-sdk")
    sent = chat.messages[1]["content"]
    assert [b["type"] for b in sent] == [use["type"], result["type"]]
    if kind == "mcp":
        assert sent[0]["server_name"] == "docs" and sent[1]["is_error"] is False
    rest = {k: v for k, v in call.items() if k != "messages"}
    with engine.stream(**rest, **chat.call_kwargs()) as again:
        assert again.text()


def test_server_tool_requests_reach_the_metrics(emulator: Emulator) -> None:
    emulator.reset()
    with Engine(Settings(base_url=emulator.base_url, max_retries=0)) as engine:
        for _ in range(2):
            relayed(engine, "sse", KINDS["web search"][0])
        engine.create(**KINDS["web fetch"][0])
        counters = engine.metrics_snapshot()["series"]["counters"]
        scrape = render_prometheus(engine.metrics_snapshot())[0].decode()
    counted = {
        c["attributes"]["gen_ai.tool.name"]: c["value"] for c in counters if "server_tool" in c["name"]
    }
    assert counted == {"web_search": 2, "web_fetch": 1}
    labels = (
        'firsttoken_profile="chat",gen_ai_response_model="claude-sonnet-5-5",gen_ai_tool_name="web_search"'
    )
    assert f"firsttoken_server_tool_requests_total{{{labels}}} 2.0" in scrape


MCP_SERVER = {"type": "url", "url": "https://mcp.example.com/mcp", "name": "docs"}


def test_a_profiles_mcp_servers_go_with_each_call(emulator: Emulator) -> None:
    settings = Settings(base_url=emulator.base_url, max_retries=0).replace(
        profiles={"chat": Settings().profile("chat").replace(mcp_servers=[MCP_SERVER])}
    )
    with Engine(settings) as engine:
        _, params = engine.prepare(messages=ask("Ask docs about caching."))
        assert params["extra_body"]["mcp_servers"] == [MCP_SERVER]
        assert params["tools"] == [{"type": "mcp_toolset", "mcp_server_name": "docs"}]
        assert params["extra_headers"]["anthropic-beta"] == MCP_BETA
        with engine.stream(messages=ask("Ask docs about caching.")) as stream:
            calls = [e for e in stream.typed_events() if type(e).__name__ == "ToolCall"]
        assert [(c.name, c.server, c.server_name) for c in calls] == [("search", True, "docs")]


@pytest.mark.parametrize(
    ("servers", "key"),
    [
        ({"type": "url"}, "mcp_servers"),
        ([{"type": "url", "url": "http://mcp.example.com", "name": "a"}], "mcp_servers[0]"),
        ([MCP_SERVER, MCP_SERVER], "mcp_servers[1]"),
        ([{"type": "stdio", "name": "a"}], "mcp_servers[0]"),
    ],
)
def test_bad_mcp_servers_fail_at_start_up_naming_the_key(servers: Any, key: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping({"profiles": {"chat": {"mcp_servers": servers}}})
    assert info.value.key == f"profiles['chat'][{key!r}]"
