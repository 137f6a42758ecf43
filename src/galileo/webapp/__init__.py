"""Galileo 0.x's ``galileo.webapp`` package name, kept for ``gunicorn galileo.webapp.wsgi:api``
(see :mod:`galileo.webapp.wsgi`); the REST API itself is :mod:`galileo.web`."""
