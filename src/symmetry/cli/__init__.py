"""Galileo 0.x's ``symmetry.cli`` entry points (see :mod:`symmetry.cli.rtable`)."""
