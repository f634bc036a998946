"""A tool definition the block-kind tests share: the emulator calls it when a prompt names it."""

from __future__ import annotations

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["location", "unit"],
    },
    # Fragments as the model writes them, not valid JSON until the block ends.
    "eager_input_streaming": True,
}
