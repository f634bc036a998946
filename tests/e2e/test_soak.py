"""Issue 19's soak, quick mode: each framework's production server under concurrent streams, dropped
clients, injected 529s and mid-stream errors, with Redis killed half-way (driver: `soak.py`; the
long mode is `benchmarks/soak.py`)."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from .soak import FALLBACK, PRIMARY, PRODUCTION, problems, run_soak, summary

pytestmark = pytest.mark.redis

REQUIRES = {"starlette": "starlette", "fastapi": "fastapi", "django-asgi": "django", "django-wsgi": "django"}


@pytest.mark.parametrize("framework", list(PRODUCTION))
def test_soak_loses_no_answer_and_leaks_nothing(framework: str) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    module = REQUIRES.get(framework, framework)
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"the {framework} example needs {module}, which is not installed")
    report = run_soak(framework, streams=120, concurrency=20)
    figures = summary(report)
    assert problems(report) == [], figures
    # The run did what it claims: every stream ran, faults fired on both paths, clients dropped,
    # answers came from both models, and there was shared state in Redis to scan before the kill.
    assert report.streams == 120
    assert figures["overloaded_529s"] > 0 and figures["midstream_faults"] > 0
    assert figures["dropped"] == 12
    assert figures["completed_by_model"][PRIMARY] > 0 and figures["completed_by_model"][FALLBACK] > 0
    assert report.scanned["redis before the kill"], "nothing in Redis before the kill"
    assert report.api_key.startswith("sk-ant-soak-")
