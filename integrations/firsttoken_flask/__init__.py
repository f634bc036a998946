"""firsttoken for Flask: `FirstToken(app)` or `FirstToken()` + `init_app(app)`.

Importing this package without Flask installed raises `FlaskNotInstalled`, an `ImportError` that
says what to install.
"""

from .config import CONFIG_KEYS, config_key, settings_from_config
from .errors import FlaskNotInstalled
from .extension import EXTENSION_KEY, FirstToken, engine_of
from .responses import relay_response

__all__ = [
    "CONFIG_KEYS",
    "EXTENSION_KEY",
    "FirstToken",
    "FlaskNotInstalled",
    "config_key",
    "engine_of",
    "relay_response",
    "settings_from_config",
]
