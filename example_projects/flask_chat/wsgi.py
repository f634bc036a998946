"""For WSGI servers that stream safely (threads; not gunicorn's default sync worker):
`granian --interface wsgi --blocking-threads 32 example_projects.flask_chat.wsgi:app` (the most
streams per core measured), or
`gunicorn -k gthread --threads 32 --graceful-timeout 120 example_projects.flask_chat.wsgi:app`.
"""

from firsttoken_flask import get_engine

from .app import create_app

app = create_app()
# A WSGI server loads this module in each worker as it starts serving: warm up there, so the first
# request does not pay for the SDK's first call or the upstream's handshakes.
with app.app_context():
    get_engine().warm_up()
