"""``python -m galileo`` = the ``galileo`` command."""

from galileo.cli.main import run

run()
