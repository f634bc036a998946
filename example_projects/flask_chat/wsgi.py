"""For WSGI servers that stream safely (threads; not gunicorn's default sync worker):
`gunicorn -k gthread --threads 32 --graceful-timeout 120 example_projects.flask_chat.wsgi:app`.
"""

from .app import create_app

app = create_app()
