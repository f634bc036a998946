import subprocess
import sys

import firsttoken_starlette
import firsttoken_starlette.fastapi


def test_exported_names() -> None:
    assert firsttoken_starlette.__all__ == [
        "FirstToken",
        "FirstTokenMiddleware",
        "RelayResponse",
        "StarletteNotInstalled",
        "console",
        "firsttoken_of",
        "get_engine",
        "start_response",
    ]
    assert firsttoken_starlette.fastapi.__all__ == [
        "chat_body",
        "exception_handlers",
        "get_engine",
        "get_firsttoken",
    ]


def test_missing_starlette_names_the_extra_to_install() -> None:
    # A fresh interpreter where `import starlette` fails, as it would without the extra.
    code = (
        "import sys; sys.modules['starlette'] = None\n"
        "try:\n    import firsttoken_starlette\n"
        "except ImportError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert (
        out.strip()
        == f"{firsttoken_starlette.StarletteNotInstalled.__name__} firsttoken_starlette needs starlette: "
        "pip install 'firsttoken[starlette]'"
    )


def test_missing_fastapi_names_its_extra() -> None:
    code = (
        "import sys; sys.modules['fastapi'] = None\n"
        "import firsttoken_starlette\n"
        "try:\n    import firsttoken_starlette.fastapi\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "firsttoken_starlette needs fastapi: pip install 'firsttoken[fastapi]'"
