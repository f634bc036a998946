"""The version matrix, run on demand (`make matrix`); CI runs the newest of each through `make test`.

Each session installs the project with one framework pinned to the oldest or newest release we
support and runs that framework's tests plus its example's contract and browser tests.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

MATRIX = {
    "django": (
        ["django>=4.2,<5", "django>=5.2,<6"],
        ["tests/integrations/django", "tests/e2e", "-k", "django"],
    ),
    "flask": (
        ["flask>=3.0,<3.1", "flask>=3.1,<4"],
        ["tests/integrations/flask", "tests/e2e", "-k", "flask"],
    ),
    "starlette": (
        ["starlette>=0.40,<0.41", "starlette>=1.0,<2"],
        ["tests/integrations/starlette", "tests/e2e", "-k", "starlette or fastapi"],
    ),
}


def _session(framework: str) -> None:
    pins, tests = MATRIX[framework]

    @nox.session(name=framework, python="3.11")
    @nox.parametrize("pin", pins)
    def run(session: nox.Session, pin: str) -> None:
        session.run_install(
            "uv",
            "sync",
            "--frozen",
            "--all-extras",
            env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        )
        session.install(pin)
        session.run("python", "-m", "pytest", *tests, *session.posargs)


for name in MATRIX:
    _session(name)
