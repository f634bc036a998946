"""The toolbar panel renders each model call of a request, in a real Django test client.

Django is configured once per process (without the toolbar, for the other tests here), so the
toolbar's project runs in a child process of its own, as a separately started Django would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from firsttoken.testing.emulator import Emulator

pytest.importorskip("debug_toolbar")

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import json, re, django
django.setup()
from django.test import Client
client = Client()
out = {}
for view in ("two-calls", "agent-turn"):
    page = client.get("/" + view)
    request_id = re.search(r'data-request-id="([^"]+)"', page.content.decode()).group(1)
    panel = client.get("/__debug__/render_panel/", {"request_id": request_id, "panel_id": "FirstTokenPanel"})
    out[view] = {"status": page.status_code, "timing": page.get("Server-Timing", ""),
                 "panel": panel.json()["content"]}
print(json.dumps(out))
"""


def test_panel_lists_each_model_call() -> None:
    with Emulator(time_scale=0.0, seed=3) as emulator:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.integrations.django.toolbar_settings",
            "ANTHROPIC_BASE_URL": emulator.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-test-not-a-key",
        }
        done = subprocess.run(
            [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr
    both = json.loads(done.stdout.strip().splitlines()[-1])
    out = both["two-calls"]
    assert out["status"] == 200
    rows = re.findall(r'<tr class="firsttoken-call">(.*?)</tr>', out["panel"], re.S)
    assert len(rows) == 2
    cells = [[c.strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)] for row in rows]
    assert cells[0][1].startswith("claude-haiku") and cells[0][2] == "fast"
    assert cells[1][2] == "chat (stream)"
    assert cells[0][3] == "" and cells[1][3] == ""  # no agent turn here
    assert float(cells[1][4]) > 0  # the stream's TTFT
    assert int(cells[0][8]) > 0 and float(cells[0][13]) > 0  # output tokens, cost estimate
    # The same calls as Server-Timing entries, which the browser's devtools show.
    assert "FirstTokenPanel_call2_ttft;dur=" in out["timing"]
    assert "(chat) TTFT" in out["timing"]

    # An agent turn: each model call of it a row, marked with its step; its tool under the last.
    agent = both["agent-turn"]
    assert agent["status"] == 200
    rows = re.findall(r'<tr class="firsttoken-call">(.*?)</tr>', agent["panel"], re.S)
    steps = [re.findall(r"<td>(.*?)</td>", row, re.S)[3].strip() for row in rows]
    assert steps == ["turn 1, step 1 of 2", "turn 1, step 2 of 2"], steps
    tools = re.findall(r'<span class="firsttoken-tool">(.*?)</span>', agent["panel"], re.S)
    assert len(tools) == 1 and tools[0].startswith("lookup ") and tools[0].endswith(" ms"), tools
