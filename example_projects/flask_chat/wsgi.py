"""For WSGI servers: `gunicorn -k gthread --threads 32 example_projects.flask_chat.wsgi:app`."""

from .app import create_app

app = create_app()
