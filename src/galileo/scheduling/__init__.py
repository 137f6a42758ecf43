"""Scheduling lab: place batches of containers of 7 long-running apps on a cluster of identical
nodes, maximising average per-container normalised throughput under co-location interference.

Modules: :mod:`compositions` (node states), :mod:`data` / :mod:`dataset` / :mod:`synthetic`
(tables, rules, batches), :mod:`sim` (TableSim, RFSim), :mod:`schedulers` (every scheduler behind
``place(batch, cluster)``), :mod:`experiment` (comparisons), :mod:`cli` (``galileo sched``).
Heavy dependencies (scipy, scikit-learn, matplotlib) come from the ``galileo[sched]`` extra.
"""
