"""What a terminal shows: firsttoken's log lines once and prefixed, the CLI's failures one line each.

Each test runs a real process with no logging configured, as a user's script or terminal has it:
Python's last-resort handler then prints a record's message alone, so the message must say who
speaks (issue 28: the cache advisor's "profile 'chat': prompt not cached..." did not).
"""

from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-ant-cli-output-secret-never-shown"
BANNER = "firsttoken: no ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL set"


def _env(**extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "FIRSTTOKEN_", "PYTEST_"))}
    return {**kept, **extra}


def _firsttoken(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firsttoken.cli", *args],
        env=_env(**env), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_log_line_of_a_stream_says_it_is_firsttokens() -> None:
    script = (
        "import firsttoken\n"
        "with firsttoken.Engine.from_env(emulator_time_scale=0.0) as engine:\n"
        "    for profile in ('chat', 'deep'):\n"
        "        with engine.stream(profile=profile, max_tokens=1,\n"
        "                           messages=[{'role': 'user', 'content': 'Hi'}]) as stream:\n"
        "            stream.text()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(FIRSTTOKEN_DEVELOPMENT="1"), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    # The banner, and the advisor's notes on these short prompts and Opus's one-token answer.
    assert any("prompt not cached" in line for line in lines), lines
    assert all(line.startswith("firsttoken: ") for line in lines), lines
    assert sum(line.startswith(BANNER) for line in lines) == 1


def test_demo_shows_its_answer_with_no_advice_on_its_own_question() -> None:
    done = _firsttoken("demo", "--time-scale", "0", FIRSTTOKEN_DEVELOPMENT="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert done.stderr.count(BANNER) == 1
    assert "prompt not cached" not in done.stderr and "Traceback" not in done.stderr


def test_demo_that_cannot_reach_the_upstream_says_so_in_one_line() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    done = _firsttoken("demo", ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY=SECRET, FIRSTTOKEN_MAX_RETRIES="0")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("Error: the upstream failed: APIConnectionError"), done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_a_bad_setting_is_one_line_naming_the_key() -> None:
    for command in ("demo", "bench"):
        done = _firsttoken(command, FIRSTTOKEN_DEVELOPMENT="1", FIRSTTOKEN_TIMEOUT="-1")
        assert done.returncode == 1
        assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
        assert done.stderr.startswith("Error: FIRSTTOKEN_TIMEOUT: ")


def test_emulate_tls_without_trustme_is_one_line_naming_the_package() -> None:
    script = (
        "import sys\n"
        "class Missing:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'trustme':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Missing())\n"
        "from firsttoken.cli import main\n"
        "main(['emulate', '--tls', '--port', '0'], prog_name='firsttoken')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stderr == "Error: the emulator's HTTPS needs trustme: pip install trustme\n"


def _message(call: ast.Call) -> str | None:
    args = call.args[1:] if isinstance(call.func, ast.Attribute) and call.func.attr == "log" else call.args
    first = args[0] if args else None
    if isinstance(first, ast.JoinedStr) and first.values:
        first = first.values[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def test_every_message_firsttoken_logs_starts_with_its_name() -> None:
    # The same rule for the messages a process with no logging configured prints bare.
    levels = {"debug", "info", "warning", "error", "exception", "critical", "log"}
    unsigned = []
    for folder in ("src/firsttoken", "integrations"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in levels
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "logger"
                ):
                    message = _message(node)
                    if message is None or not message.startswith("firsttoken"):
                        unsigned.append(f"{path.relative_to(ROOT)}:{node.lineno}: {message!r}")
    assert not unsigned, unsigned
