"""``gunicorn -k uvicorn.workers.UvicornWorker galileo.webapp.wsgi:api``: Galileo 0.x's way to
serve the REST API. ``api`` is today's ASGI app (``galileo api`` does the same in one command),
built from the ``galileo_*`` environment when a server imports this module."""

from __future__ import annotations

import logging

from galileo.cli.legacy import note
from galileo.settings import Settings
from galileo.web import create_app

note("gunicorn … galileo.webapp.wsgi:api", "galileo api")
logging.basicConfig(level=logging.INFO)
api = create_app(Settings.from_env())
application = api  # the name ASGI servers look for by default
