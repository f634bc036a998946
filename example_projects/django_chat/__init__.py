"""The chat example on Django; `python -m example_projects.django_chat` serves it."""
