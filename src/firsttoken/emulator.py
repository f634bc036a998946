"""The emulator's former home, kept so `from firsttoken.emulator import Emulator` goes on working.

New code imports from `firsttoken.testing.emulator`.
"""

from .testing.emulator import (
    Emulator,
    EmulatorApp,
    EmulatorConfig,
    EmulatorProcess,
    Fault,
    ModelTiming,
    RateLimit,
    create_app,
    parse_fault,
    parse_model_profile,
    parse_rate_limit,
)

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
