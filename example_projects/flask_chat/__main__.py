"""`python -m example_projects.flask_chat`: the Werkzeug server, threaded, on 127.0.0.1:$PORT.

In production, a server that streams safely (docs/deployment.md):

    gunicorn -k gthread --threads 32 --graceful-timeout 120 example_projects.flask_chat.wsgi:app
"""

from __future__ import annotations

import os

from firsttoken_flask import get_engine

from . import create_app


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    # `make demo` is development: with no key, the embedded emulator answers (and the page says so).
    os.environ.setdefault("FIRSTTOKEN_DEVELOPMENT", "1")
    app = create_app()
    with app.app_context():
        engine = get_engine()
        upstream = engine.upstream.describe()["description"]
        # Before serving: the first request finds the SDK's paths run and the upstream connected.
        engine.warm_up()
    print(f"firsttoken Flask chat on http://127.0.0.1:{port} (answers from {upstream})", flush=True)
    # threaded: one stream must not hold the only thread while other requests wait.
    app.run(host="127.0.0.1", port=port, threaded=True, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
