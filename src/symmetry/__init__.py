"""Galileo 0.x's routing-table package name, kept so ``python -m symmetry.cli.rtable`` works;
the routing table itself is :mod:`galileo.routing` (``g.rtbl``, ``galileo rtbl``)."""
