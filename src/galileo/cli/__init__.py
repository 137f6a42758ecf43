"""The ``galileo`` command line (typer + rich)."""
