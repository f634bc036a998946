"""An emulator of Anthropic's Messages API: real HTTP, realistic timing, prompt caching, faults.

from firsttoken.testing.emulator import Emulator
with Emulator(time_scale=0.0) as emu:
    client = anthropic.Anthropic(base_url=emu.base_url, api_key="test")
"""

from .app import EmulatorApp, create_app
from .config import EmulatorConfig, ModelTiming, RateLimit, parse_model_profile, parse_rate_limit
from .faults import Fault, parse_fault
from .process import EmulatorProcess
from .server import Emulator

__all__ = [
    "Emulator",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorProcess",
    "Fault",
    "ModelTiming",
    "RateLimit",
    "create_app",
    "parse_fault",
    "parse_model_profile",
    "parse_rate_limit",
]
