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
page = client.get("/two-calls")
request_id = re.search(r'data-request-id="([^"]+)"', page.content.decode()).group(1)
panel = client.get("/__debug__/render_panel/", {"request_id": request_id, "panel_id": "FirstTokenPanel"})
print(json.dumps({"status": page.status_code, "timing": page.get("Server-Timing", ""),
                  "panel": panel.json()["content"]}))
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
            [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == 200
    rows = re.findall(r'<tr class="firsttoken-call">(.*?)</tr>', out["panel"], re.S)
    assert len(rows) == 2
    cells = [[c.strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)] for row in rows]
    assert cells[0][1].startswith("claude-haiku") and cells[0][2] == "fast"
    assert cells[1][2] == "chat (stream)"
    assert float(cells[1][3]) > 0  # the stream's TTFT
    assert int(cells[0][7]) > 0 and float(cells[0][12]) > 0  # output tokens, cost estimate
    # The same calls as Server-Timing entries, which the browser's devtools show.
    assert "FirstTokenPanel_call2_ttft;dur=" in out["timing"]
    assert "(chat) TTFT" in out["timing"]
