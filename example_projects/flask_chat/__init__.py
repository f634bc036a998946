"""The chat example on Flask.

Run `python -m example_projects.flask_chat`, or gunicorn with `example_projects.flask_chat.wsgi:app`.
"""

from .app import create_app, firsttoken

__all__ = ["create_app", "firsttoken"]
