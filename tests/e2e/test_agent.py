"""Agent turns through every example's real server (Django under WSGI and ASGI too): the `agent`
profile's two-step answer in SSE and in the AI SDK's parts (rebuilt by its own client under node),
a raising tool, a tool past its timeout, a browser leaving mid-tool, two tools at once, and the
page showing the calls and their results before the final answer. Then approvals (`set_reminder`
paused, approved, denied, answered twice; the page's Approve and Deny) and an answer that
restarts on the fallback model after an overload mid-stream (SSE, the AI SDK 7 client, the page).

The examples run unchanged: their `chat` profile gets the test tools (`agent_tools.py`) through
`FIRSTTOKEN_PROFILES`, the way an operator would configure one.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from tests.browser import chromium

from .conftest import EXAMPLE_APPS, ExampleApp, RunningExample, _pick, _start, _start_all
from .sse import named, parse
from .test_blocks import rebuild

MARKS = Path(tempfile.gettempdir()) / f"firsttoken-agent-marks-{os.getpid()}.txt"
PROFILES = json.dumps(
    {
        "chat": {
            "tools": [
                "tests.e2e.agent_tools:boom",
                "tests.e2e.agent_tools:sleepy",
                "tests.e2e.agent_tools:stuck",
                "tests.e2e.agent_tools:nap",
            ],
            "tool_timeout": 1.0,
            # A newer model: an overload mid-answer restarts the answer on it.
            "fallbacks": ["claude-haiku-5-5"],
        }
    }
)
APPS = [
    *EXAMPLE_APPS,
    ExampleApp(
        "django-asgi",
        ("-m", "uvicorn", "example_projects.django_chat.asgi:application", "--port", "{port}"),
        env={
            "DJANGO_SETTINGS_MODULE": "example_projects.django_chat.settings",
            "FIRSTTOKEN_DEVELOPMENT": "1",
        },
        requires="django",
    ),
]
QUESTION = "What time is it in Paris, and what is 2*(3+4)?"


@pytest.fixture(scope="module")
def agent_emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def agent_examples(agent_emulator: Emulator) -> Iterator[dict[str, RunningExample]]:
    env = {
        "FIRSTTOKEN_PROFILES": PROFILES,
        "AGENT_TEST_MARKS": str(MARKS),
        # Short beats: a sync server learns that the browser left at its next write.
        "FIRSTTOKEN_HEARTBEAT_INTERVAL": "0.1",
    }
    yield from _start_all([replace(app, env={**app.env, **env}) for app in APPS], agent_emulator)


@pytest.fixture(scope="module", params=APPS, ids=lambda app: app.name)
def agent_example(
    request: pytest.FixtureRequest, agent_examples: dict[str, RunningExample]
) -> RunningExample:
    return _pick(agent_examples, request.param)


def ask(example: RunningExample, text: str, profile: str = "chat") -> list[Any]:
    body = {"messages": [{"role": "user", "content": text}], "profile": profile}
    response = example.client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    return named(parse(response.content))


def test_two_steps_in_sse(agent_example: RunningExample) -> None:
    events = ask(agent_example, QUESTION, profile="agent")
    names = [e.name for e in events]
    calls = [e.data for e in events if e.name == "tool_call"]
    results = {e.data["name"]: e.data for e in events if e.name == "tool_result"}
    assert [c["name"] for c in calls] == ["clock", "calculate"]
    assert calls[0]["input"] == {"timezone": "Europe/Paris"} and calls[1]["input"] == {
        "expression": "2*(3+4)"
    }
    assert results["calculate"] == {
        "id": calls[1]["id"],
        "name": "calculate",
        "output": 14,
        "is_error": False,
    }
    assert results["clock"]["output"].endswith(("+01:00", "+02:00")) and not results["clock"]["is_error"]
    last_result = max(i for i, n in enumerate(names) if n == "tool_result")
    final = "".join(e.data["text"] for e in events[last_result:] if e.name == "token")
    assert "calculate tool says 14" in final and "thinking" in names[last_result:]
    done = events[-1]
    assert done.name == "done" and done.data["steps"] == 2 and done.data["stop_reason"] == "end_turn"
    assert all(c["id"].startswith("toolu_") for c in calls)


def test_two_steps_in_the_ai_sdk_client(agent_example: RunningExample) -> None:
    user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}
    rebuilt = rebuild(
        agent_example, {"id": "c1", "messages": [user], "trigger": "submit-message", "profile": "agent"}
    )
    assert rebuilt["status"] == 200, rebuilt
    parts = rebuilt["message"]["parts"]
    kinds = [p["type"] for p in parts]
    assert kinds == [
        "step-start",
        "reasoning",
        "text",
        "tool-clock",
        "tool-calculate",
        "step-start",
        "reasoning",
        "text",
    ], kinds
    clock, calculate = parts[3], parts[4]
    assert clock["state"] == calculate["state"] == "output-available"
    assert calculate["input"] == {"expression": "2*(3+4)"} and calculate["output"] == 14
    assert parts[2]["text"].startswith("I'll use the clock and calculate tools")
    assert "calculate tool says 14" in parts[7]["text"]
    assert parts[6]["providerMetadata"]["anthropic"]["signature"]
    assert rebuilt["message"]["metadata"]["steps"] == 2


def test_a_raising_tool_is_an_error_result(agent_example: RunningExample) -> None:
    events = ask(agent_example, "Please run boom({}) now.")
    result = next(e.data for e in events if e.name == "tool_result")
    assert result["is_error"] is True and result["output"] == "RuntimeError: the boom tool blew up"
    text = "".join(e.data["text"] for e in events if e.name == "token")
    assert "boom tool failed (RuntimeError: the boom tool blew up)" in text
    assert events[-1].data["steps"] == 2
    user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Please run boom({}) now."}]}
    rebuilt = rebuild(agent_example, {"id": "c2", "messages": [user], "trigger": "submit-message"})
    tool = next(p for p in rebuilt["message"]["parts"] if p["type"] == "tool-boom")
    assert tool["state"] == "output-error" and "blew up" in tool["errorText"]


def _marks() -> str:
    return MARKS.read_text() if MARKS.exists() else ""


def _wait_for(line: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if line in _marks():
            return True
        time.sleep(0.02)
    return False


def test_a_slow_tool_is_cancelled_at_its_timeout(agent_example: RunningExample) -> None:
    MARKS.write_text("")
    started = time.monotonic()
    events = ask(agent_example, 'Run stuck({"seconds": 30}) please.')
    took = time.monotonic() - started
    call = next(e.data for e in events if e.name == "tool_call")
    result = next(e.data for e in events if e.name == "tool_result")
    assert result["is_error"] and "longer than its 1s timeout" in result["output"]
    assert took < 5.0 and events[-1].data["steps"] == 2
    # The sync tool saw its flag and stopped, rather than sleeping on in its thread.
    assert _wait_for(f"stuck cancelled {call['id']}", 2.0)


def test_two_tools_run_at_once(agent_example: RunningExample) -> None:
    started = time.monotonic()
    events = ask(agent_example, 'Run sleepy({"seconds": 0.8}) and nap({"seconds": 0.8}) together.')
    took = time.monotonic() - started
    results = [e.data for e in events if e.name == "tool_result"]
    assert sorted(r["name"] for r in results) == ["nap", "sleepy"] and not any(r["is_error"] for r in results)
    # One after the other would take 1.6 s of tools alone.
    assert took < 1.5, took


def test_a_browser_leaving_mid_tool_cancels_it(agent_example: RunningExample) -> None:
    body = {"messages": [{"role": "user", "content": 'Run sleepy({"seconds": 20}) and nap({"seconds": 20})'}]}
    body["profile"] = "chat"
    MARKS.write_text("")
    with (
        httpx2.Client(timeout=10.0) as client,
        client.stream("POST", agent_example.url + "/api/chat", json=body) as response,
    ):
        # Held, not left by a `break`: a dropped iterator closes the connection there and then.
        chunks = response.iter_bytes()
        seen = b""
        while seen.count(b"event: tool_call") < 2:
            seen += next(chunks)
        calls = [e.data for e in named(parse(seen.rsplit(b"\n\n", 1)[0] + b"\n\n")) if e.name == "tool_call"]
        call = next(c for c in calls if c["name"] == "sleepy")
        # How soon the pool starts it is not what this tests (a loaded CI machine took over 2 s once);
        # how soon it stops once the browser leaves is.
        assert _wait_for(f"sleepy started {call['id']}", 15.0), _marks()
        left = time.monotonic()
    # The response is closed: the sync tool's flag is set and the async one cancelled.
    assert _wait_for(f"sleepy cancelled {call['id']}", 2.0), _marks()
    assert _wait_for("nap cancelled", 2.0), _marks()
    assert time.monotonic() - left < 2.0


WATCH = """() => {
  window.__order = [];
  new MutationObserver(() => {
    const answer = document.querySelector('.answer');
    if (!answer) return;
    const note = (what) => { if (!window.__order.includes(what)) window.__order.push(what); };
    if (answer.querySelector('.tool[data-state="done"]')) note('call');
    if (answer.querySelector('.tool .tool-output')) note('result');
    const texts = answer.querySelectorAll('span.text');
    if (texts.length > 1 && texts[texts.length - 1].textContent) note('final');
  }).observe(document.getElementById('conversation'), {subtree: true, childList: true,
                                                       characterData: true, attributes: true});
}"""


@pytest.fixture(scope="module")
def page_example(agent_emulator: Emulator) -> Iterator[RunningExample]:
    # A fifth of real time, so the page is watched while the answer streams in.
    with Emulator(time_scale=0.2, seed=0) as emulator:
        yield from _start(EXAMPLE_APPS[0], emulator)


@pytest.mark.browser
def test_the_page_shows_tool_calls_and_results_before_the_answer(page_example: RunningExample) -> None:
    for browser in chromium():
        context = browser.new_context(viewport={"width": 1000, "height": 760})
        try:
            page = context.new_page()
            page.goto(page_example.url + "/")
            page.wait_for_function("() => document.readyState === 'complete'")
            page.evaluate(WATCH)
            page.select_option("#profile", "agent")
            page.fill("#prompt", QUESTION)
            page.click("#send")
            page.wait_for_selector(".answer[data-state='done']", timeout=30_000)
            order = page.evaluate("() => window.__order")
            assert order == ["call", "result", "final"], order
            outputs = page.locator(".answer .tool .tool-output").all_text_contents()
            assert len(outputs) == 2 and "14" in outputs
            final = page.locator(".answer span.text").last.text_content() or ""
            assert "calculate tool says 14" in final
        finally:
            context.close()


@pytest.fixture(scope="module")
def realtime_agent_emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=1.0, seed=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def realtime_agent_examples(realtime_agent_emulator: Emulator) -> Iterator[dict[str, RunningExample]]:
    yield from _start_all(APPS, realtime_agent_emulator)


@pytest.fixture(scope="module", params=APPS, ids=lambda app: app.name)
def realtime_agent_example(
    request: pytest.FixtureRequest, realtime_agent_examples: dict[str, RunningExample]
) -> RunningExample:
    return _pick(realtime_agent_examples, request.param)


@pytest.mark.slow
def test_leaving_during_the_second_step_stops_that_model_call_within_100ms(
    realtime_agent_example: RunningExample, realtime_agent_emulator: Emulator
) -> None:
    emulator = realtime_agent_emulator
    body = {"messages": [{"role": "user", "content": QUESTION}], "profile": "agent"}
    stops: list[float] = []
    tries = 0
    while len(stops) < 3 and tries < 8:
        tries += 1
        url = realtime_agent_example.url + "/api/chat"
        with httpx2.Client(timeout=30.0) as client, client.stream("POST", url, json=body) as response:
            seen = b""
            for chunk in response.iter_bytes():
                seen += chunk
                # The second step's first token: after both tool results.
                if (
                    seen.count(b"event: tool_result") == 2
                    and b"event: token" in seen.rsplit(b"tool_result", 1)[1]
                ):
                    break
            # On a loaded machine a read can bring the whole second step at once: then there is
            # nothing left to stop, and that try measures nothing.
            streaming = emulator.stats()["streams_open"] == 1
            left = time.perf_counter()
        while emulator.stats()["streams_open"]:
            assert time.perf_counter() - left < 5.0
            time.sleep(0.001)
        if streaming:
            stops.append(time.perf_counter() - left)
    assert len(stops) == 3, (tries, stops)
    # The median, so one scheduling hiccup on a shared machine does not decide the result.
    assert sorted(stops)[1] < 0.1, stops


# -- approvals ---------------------------------------------------------------------------------

# The date's dashes escaped in the JSON: written out, "2026-12-24" reads as arithmetic to the
# emulated model, which would call `calculate` as well.
REMINDER = 'Please set_reminder({"text": "call mom", "at": "2026\\u002d12\\u002d24T09:00"}) for me.'
REMINDER_INPUT = {"text": "call mom", "at": "2026-12-24T09:00"}


def post(example: RunningExample, body: dict[str, Any]) -> tuple[int, list[Any]]:
    response = example.client.post("/api/chat", json=body)
    if response.status_code != 200:
        return response.status_code, [response.json()]
    return 200, named(parse(response.content))


def paused(example: RunningExample) -> tuple[list[dict[str, str]], str]:
    messages = [{"role": "user", "content": REMINDER}]
    status, events = post(example, {"messages": messages, "profile": "agent"})
    assert status == 200
    names = [e.name for e in events]
    call = next(e.data for e in events if e.name == "tool_call")
    approval = next(e.data for e in events if e.name == "tool_approval")
    assert approval == {"id": call["id"], "name": "set_reminder", "input": REMINDER_INPUT}
    assert names.index("tool_approval") > names.index("tool_call") and "tool_result" not in names
    done = events[-1]
    assert done.name == "done" and done.data["awaiting_approval"] == [call["id"]]
    assert done.data["stop_reason"] == "tool_use" and done.data["steps"] == 1
    return messages, call["id"]


def test_an_approved_call_runs_and_the_turn_goes_on(agent_example: RunningExample) -> None:
    messages, id = paused(agent_example)
    answer = {"messages": messages, "profile": "agent", "approvals": [{"id": id, "approved": True}]}
    status, events = post(agent_example, answer)
    assert status == 200, events
    result = next(e.data for e in events if e.name == "tool_result")
    assert result["id"] == id and not result["is_error"]
    assert result["output"] == "reminder set for 2026-12-24T09:00:00: call mom"
    text = "".join(e.data["text"] for e in events if e.name == "token")
    assert "set_reminder tool says reminder set for 2026-12-24T09:00:00" in text
    assert events[-1].name == "done" and "awaiting_approval" not in events[-1].data
    # Taken once: the same answer again finds nothing waiting, and nothing runs twice.
    status, again = post(agent_example, answer)
    assert status == 409 and id in again[0]["error"]


def test_a_denied_call_is_an_error_result_the_model_answers(agent_example: RunningExample) -> None:
    messages, id = paused(agent_example)
    # Answers that do not fit the paused turn are refused, and leave it waiting.
    other = [{"role": "user", "content": "Something else entirely."}]
    status, refused = post(
        agent_example, {"messages": other, "profile": "agent", "approvals": [{"id": id, "approved": False}]}
    )
    assert status == 400 and "another conversation" in refused[0]["error"]
    status, refused = post(
        agent_example, {"messages": messages, "profile": "agent", "approvals": [{"id": id, "approved": "no"}]}
    )
    assert status == 400 and "approvals[0].approved" in refused[0]["error"]
    denial = {"id": id, "approved": False, "reason": "not now"}
    status, events = post(agent_example, {"messages": messages, "profile": "agent", "approvals": [denial]})
    assert status == 200, events
    result = next(e.data for e in events if e.name == "tool_result")
    assert (
        result["is_error"] and result["output"] == "The user denied this tool call: not now. It did not run."
    )
    text = "".join(e.data["text"] for e in events if e.name == "token")
    assert "set_reminder tool failed (The user denied this tool call: not now" in text


def test_the_ai_sdk_7_client_asks_and_answers(agent_example: RunningExample) -> None:
    user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": REMINDER}]}
    body = {"id": "c9", "messages": [user], "trigger": "submit-message", "profile": "agent"}
    first = rebuild(agent_example, body, package="ai7")
    assert first["status"] == 200, first
    message = first["message"]
    tool = next(p for p in message["parts"] if p["type"] == "tool-set_reminder")
    assert tool["state"] == "approval-requested" and tool["input"] == REMINDER_INPUT
    # What `addToolApprovalResponse` makes of the part; `useChat` sends the conversation back.
    tool.update(state="approval-responded", approval={"id": tool["approval"]["id"], "approved": False})
    body = {"id": "c9", "messages": [user, message], "trigger": "submit-message", "profile": "agent"}
    second = rebuild(agent_example, body, package="ai7", message=message)
    assert second["status"] == 200, second
    resumed = second["message"]
    assert resumed["id"] == message["id"]
    tool = next(p for p in resumed["parts"] if p["type"] == "tool-set_reminder")
    assert tool["state"] == "output-error" and "denied" in tool["errorText"]
    final = [p["text"] for p in resumed["parts"] if p["type"] == "text"][-1]
    assert "set_reminder tool failed (The user denied this tool call" in final


# -- an answer that restarts on the fallback model ------------------------------------------------


def test_an_overload_mid_answer_restarts_it_on_the_fallback(
    agent_example: RunningExample, agent_emulator: Emulator
) -> None:
    question = "Explain in a few sentences why streaming makes a chat feel fast."
    agent_emulator.set_faults(["midstream_overloaded@claude-sonnet-5-5"])
    try:
        status, events = post(agent_example, {"messages": [{"role": "user", "content": question}]})
        user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": question}]}
        rebuilt = rebuild(agent_example, {"id": "c8", "messages": [user]}, package="ai7")
    finally:
        agent_emulator.set_faults([])
    assert status == 200 and "error" not in [e.name for e in events]
    names = [e.name for e in events]
    reset = names.index("reset")
    assert events[reset].data == {"reason": "fallback", "model": "claude-haiku-5-5"}
    assert "token" in names[:reset] and "token" in names[reset:]
    after = "".join(e.data["text"] for e in events[reset:] if e.name == "token")
    done = events[-1].data
    assert done["served_by"] == "claude-haiku-5-5" and done["fallbacks"] == 1
    # The AI SDK 7 client dropped the first model's words (reset-step): the fallback's alone remain.
    texts = [p["text"] for p in rebuilt["message"]["parts"] if p["type"] == "text"]
    assert rebuilt["status"] == 200 and texts == [after], rebuilt


# -- the page: Approve and Deny, and a restarted answer -------------------------------------------

WATCH_ERRORS = """() => {
  window.__errors = 0; window.__longest = 0; window.__shrank = false;
  new MutationObserver(() => {
    for (const answer of document.querySelectorAll('.answer')) {
      if (answer.dataset.state === 'error' || answer.querySelector('span.error')) window.__errors += 1;
    }
    const last = [...document.querySelectorAll('.answer')].pop();
    const length = last ? last.textContent.length : 0;
    if (length < window.__longest) window.__shrank = true;
    window.__longest = Math.max(window.__longest, length);
  }).observe(document.getElementById('conversation'), {subtree: true, childList: true,
                                                       characterData: true, attributes: true});
}"""


@pytest.fixture(scope="module")
def approvals_page(agent_emulator: Emulator) -> Iterator[tuple[RunningExample, Emulator]]:
    # A fifth of real time, so the page is watched while the answers stream in; the chat profile
    # falls back to a newer model, for the restart.
    env = {"FIRSTTOKEN_PROFILES": json.dumps({"chat": {"fallbacks": ["claude-haiku-5-5"]}})}
    with Emulator(time_scale=0.2, seed=0) as emulator:
        for running in _start(replace(EXAMPLE_APPS[0], env={**EXAMPLE_APPS[0].env, **env}), emulator):
            yield running, emulator


def _answers_done(page: Any, count: int) -> None:
    page.wait_for_function(
        f"() => document.querySelectorAll('.answer[data-state=\"done\"]').length >= {count}", timeout=30_000
    )


@pytest.mark.browser
def test_the_page_approves_and_denies_from_the_keyboard(
    approvals_page: tuple[RunningExample, Emulator],
) -> None:
    example, _ = approvals_page
    for browser in chromium():
        context = browser.new_context(viewport={"width": 1000, "height": 760})
        try:
            page = context.new_page()
            page.goto(example.url + "/")
            page.wait_for_function("() => document.readyState === 'complete'")
            page.evaluate(WATCH_ERRORS)
            page.select_option("#profile", "agent")
            page.fill("#prompt", REMINDER)
            page.press("#prompt", "Enter")
            page.wait_for_selector(".tool[data-approval='waiting'] button.approve", timeout=30_000)
            _answers_done(page, 1)
            # The Approve button has the focus: Enter presses it.
            assert page.evaluate("() => document.activeElement.className") == "approve"
            page.keyboard.press("Enter")
            _answers_done(page, 2)
            resumed = page.locator(".answer").nth(1)
            assert "reminder set for 2026-12-24T09:00:00" in (
                resumed.locator(".tool-output").text_content() or ""
            )
            assert "set_reminder tool says reminder set" in (resumed.text_content() or "")

            page.fill("#prompt", REMINDER)
            page.press("#prompt", "Enter")
            waiting = ".tool[data-approval='waiting'] button.deny"
            page.wait_for_function(
                f'() => document.querySelectorAll("{waiting}").length === 1', timeout=30_000
            )
            _answers_done(page, 3)
            # Tab from Approve reaches Deny; Space presses it.
            page.keyboard.press("Tab")
            assert page.evaluate("() => document.activeElement.className") == "deny"
            page.keyboard.press(" ")
            _answers_done(page, 4)
            denied = page.locator(".answer").nth(3)
            assert "denied" in (denied.locator(".tool-output.error").text_content() or "")
            assert "set_reminder tool failed" in (denied.text_content() or "")
            assert page.evaluate("() => window.__errors") == 0
        finally:
            context.close()


@pytest.mark.browser
def test_the_page_replaces_a_restarted_answer_without_an_error(
    approvals_page: tuple[RunningExample, Emulator],
) -> None:
    example, emulator = approvals_page
    question = "Explain in a few sentences why streaming makes a chat feel fast."
    emulator.set_faults(["midstream_overloaded@claude-sonnet-5-5"])
    try:
        status, events = post(example, {"messages": [{"role": "user", "content": question}]})
        assert status == 200
        reset = [e.name for e in events].index("reset")
        expected = "".join(e.data["text"] for e in events[reset:] if e.name == "token")
        for browser in chromium():
            context = browser.new_context(viewport={"width": 1000, "height": 760})
            try:
                page = context.new_page()
                page.goto(example.url + "/")
                page.wait_for_function("() => document.readyState === 'complete'")
                page.evaluate(WATCH_ERRORS)
                page.fill("#prompt", question)
                page.press("#prompt", "Enter")
                _answers_done(page, 1)
                assert page.locator(".answer span.text").all_text_contents() == [expected]
                # The first model's words were shown, then dropped; no error ever showed.
                assert page.evaluate("() => [window.__shrank, window.__errors]") == [True, 0]
            finally:
                context.close()
    finally:
        emulator.set_faults([])
