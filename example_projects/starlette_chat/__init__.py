"""The chat example on Starlette; `python -m example_projects.starlette_chat` serves it."""
