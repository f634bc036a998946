"""firsttoken for Flask: `firsttoken = FirstToken(app)` (or `FirstToken()` then `init_app(app)`),
and `return firsttoken.chat()` from a view; `get_engine()` is the current app's engine.

Importing this package without Flask installed raises `firsttoken.FrameworkNotInstalled`, an
`ImportError` that says what to install (`FlaskNotInstalled` is the same class).
"""

from firsttoken import FrameworkNotInstalled

try:
    import flask  # noqa: F401  (the guard: every module of the package is imported after this one)
except ImportError as exc:
    raise FrameworkNotInstalled("firsttoken_flask", "Flask") from exc

from .config import CONFIG_KEYS, config_key, settings_from_config
from .console import console
from .extension import FirstToken
from .registry import EXTENSION_KEY, get_engine
from .responses import relay_response, start_response

# The adapter's former name for the shared error, kept for code that catches it.
FlaskNotInstalled = FrameworkNotInstalled

__all__ = [
    "CONFIG_KEYS",
    "EXTENSION_KEY",
    "FirstToken",
    "FlaskNotInstalled",
    "config_key",
    "console",
    "get_engine",
    "relay_response",
    "settings_from_config",
    "start_response",
]
