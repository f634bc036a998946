"""The emulator's former home, kept so `from firsttoken.emulator import Emulator` goes on working.

New code imports from `firsttoken.testing.emulator`.
"""

from .testing import emulator as _emulator
from .testing.emulator import *  # noqa: F403

__all__ = _emulator.__all__
