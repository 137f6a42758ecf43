"""The scheduling lab's schedulers as placement policies on the live nodes.

``greedy``, ``paragon``, ``medea``, ``ours``, ``metis`` and ``round-robin`` place instances with
the lab scheduler of the same name (:mod:`galileo.scheduling.schedulers`), fed by an
interference table: ``greedy,table=profile/profile.npz`` (what ``galileo profile`` wrote) or
``table=metis`` (the Metis table shipped with the lab). Options:

* ``table=PATH|metis`` (required): a missing option or file is a ConfigError when the service is
  declared, never a silent fallback; the path is made absolute when the service is declared
  (it must be readable where the reconciler runs);
* ``as=APP``: the table column this service stands for (default: its app's; ``ycsb`` is
  ``ycsb-a`` unless ``as=ycsb-b``; a command or image service needs it);
* ``seed=N`` (default 0), ``budget=X`` (``metis``' training budget, default 0.2).

How the live cluster becomes the lab's: every live node is a lab node holding, per table column,
the instances of every declared service mapped to that column (instances of services whose app
the table does not measure are invisible to the model). A node holds at most the table's
*capacity* -- the most containers one of its measured compositions has (8 for Metis): CPU and
memory are the reconciler's business (its feasibility filter), the lab's capacity is how far the
table can predict. The scheduler places the service's missing instances onto that state
(``place(batch, cluster, initial=...)``; a batch scheduler plans them all at once); a pick that
is not feasible for the service (constraints, CPU, memory, port) is replaced by the scheduler's
plan on the feasible nodes only, and the reason says so.

The table is loaded, and its simulator built, once per file (path, size and mtime) per
process: :class:`~galileo.scheduling.sim.TableSim` when it measures every composition of its
apps up to its capacity, else the Metis random forest (:class:`~galileo.scheduling.sim.RFSim`,
scikit-learn). ``metis`` trains its sub-scheduler for the live node count on first use (5-20 s
at ``budget=0.2``, in the reconciler's round) and caches it in
``<table dir>/<table stem>-policies/``.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from galileo.errors import ConfigError, GalileoError
from galileo.protocol import ServiceSpec
from galileo.services.placement_base import NodeView, Placement

if TYPE_CHECKING:
    import numpy as np

    from galileo.scheduling.data import InterferenceTable, Rule
    from galileo.scheduling.schedulers import Scheduler
    from galileo.scheduling.sim import Simulator

__all__ = ["APP_COLUMNS", "LAB_PLACEMENTS", "LabModel", "LabPlacement", "column_of",
           "lab_model"]

METIS_TABLE: Final = "metis"
DEFAULT_BUDGET: Final = 0.2
# a service's app (or its as= name) -> the Metis column it fills (as galileo profile writes)
APP_COLUMNS: Final[dict[str, int]] = {
    "kv": 0, "classify": 1, "checksum": 2, "ycsb": 3, "ycsb-a": 3, "ycsb-b": 4,
    "scenedetect": 5, "superres": 6,
    # the Metis table's own names
    "redis": 0, "mms": 1, "scene-detect": 5, "isr": 6,
}
_OPTIONS: Final = ("table", "as", "seed", "budget")


@dataclass
class LabModel:
    """One interference table with its simulator, rules and (lazily) schedulers."""

    path: Path
    table: InterferenceTable
    sim: Simulator
    rules: list[Rule]
    apps: list[int]  # the columns the table measures
    capacity: int  # containers per node the table predicts up to
    policy_dir: Path
    _schedulers: dict[tuple[str, int, float], Scheduler] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def scheduler(self, name: str, seed: int, budget: float) -> Scheduler:
        from galileo.scheduling.schedulers import Context, make_scheduler

        key = (name, seed, budget)
        with self._lock:
            if key not in self._schedulers:
                ctx = Context(self.sim, self.rules, seed=seed, checkpoint_dir=self.policy_dir,
                              budget=budget)
                try:
                    self._schedulers[key] = make_scheduler(name, ctx)
                except ImportError as e:
                    raise ConfigError(f"placement {name!r} needs {e.name or 'scipy'}: install "
                                      "galileo[sched] where the reconciler runs.") from None
            return self._schedulers[key]

    def app_names(self) -> str:
        names = {c: n for n, c in reversed(APP_COLUMNS.items())}
        return ", ".join(names[c] for c in self.apps)


_MODELS: dict[tuple[str, int, int], LabModel] = {}
_MODELS_LOCK = threading.Lock()


def table_path(text: str) -> Path:
    """``metis`` -> the shipped Metis table; else the path, made absolute."""
    if text == METIS_TABLE:
        from galileo.scheduling.data import FULL_TABLE, METIS_DATA_DIR

        return METIS_DATA_DIR / FULL_TABLE
    return Path(text).expanduser().absolute()


def lab_model(text: str) -> LabModel:
    """The model of table ``text`` (built once per file version in this process)."""
    path = table_path(text)
    try:
        stat = path.stat()
    except OSError:
        raise ConfigError(f"interference table {path} does not exist (write one with "
                          "`galileo profile`, or use table=metis).") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _build(path, text == METIS_TABLE)
        return _MODELS[key]


def _build(path: Path, metis: bool) -> LabModel:
    import numpy as np

    from galileo.scheduling.compositions import all_compositions
    from galileo.scheduling.data import RULES_CSV, derive_rules, load_rules, load_table
    from galileo.scheduling.sim import RFSim, TableSim

    table = load_table(path)
    rules_path = (path.parents[2] if metis else path.parent) / RULES_CSV
    rules = load_rules(rules_path) if rules_path.is_file() else derive_rules(table)
    apps = [int(a) for a in np.flatnonzero((table.alloc > 0).any(0))]
    capacity = int(table.alloc.sum(1).max())
    comps = all_compositions()
    others = [a for a in range(comps.shape[1]) if a not in apps]
    wanted = (comps[:, others].sum(1) == 0) & (comps.sum(1) >= 1) & (comps.sum(1) <= capacity)
    policy_dir = path.parent / f"{path.stem}-policies"
    if metis or not _writable(path.parent):
        policy_dir = Path(tempfile.gettempdir()) / "galileo-lab-policies" / path.stem
    sim: Simulator
    if table.dense()[1][wanted].all():
        sim = TableSim(table)
    else:
        try:
            sim = RFSim(table, policy_dir)
        except ImportError:
            raise ConfigError(f"interference table {path} misses compositions, and the model "
                              "that fills them needs scikit-learn: install galileo[sched] "
                              "where the reconciler runs.") from None
    return LabModel(path, table, sim, rules, apps, capacity, policy_dir)


def _writable(directory: Path) -> bool:
    import os

    return os.access(directory, os.W_OK)


def _options(placement: str) -> dict[str, str]:
    out = {}
    for pair in placement.split(",")[1:]:
        key, _, value = pair.strip().partition("=")
        out[key] = value
    return out


def column_of(spec: ServiceSpec | None) -> tuple[str, int | None]:
    """The app name a service stands for in a table and its column (None when unknown)."""
    if spec is None:
        return "", None
    name = _options(spec.placement).get("as") or (spec.what if spec.kind == "app" else "")
    return name, APP_COLUMNS.get(name.lower())


class LabPlacement(Placement):
    """A lab scheduler on the live nodes (see the module doc); ``scheduler`` names it."""

    scheduler: ClassVar[str] = ""

    def __init__(self, **options: str) -> None:
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(f"placement {self.name!r} has no option {unknown[0]!r} "
                              f"(options: {', '.join(_OPTIONS)}).")
        table = options.get("table", "")
        if not table:
            raise ConfigError(f"placement {self.name!r} needs an interference table: add "
                              f"table=PATH (the .npz `galileo profile` wrote) or table=metis, "
                              f"e.g. {self.name},table=profile/profile.npz.")
        try:
            self.seed = int(options.get("seed", "0"))
            self.budget = float(options.get("budget", str(DEFAULT_BUDGET)))
        except ValueError:
            raise ConfigError(f"placement {self.name!r}: seed must be an integer and budget "
                              f"a number, got {options.get('seed')!r}, "
                              f"{options.get('budget')!r}.") from None
        if not 0 < self.budget <= 10:
            raise ConfigError(f"placement {self.name!r}: budget must be in (0, 10], got "
                              f"{self.budget:g}.")
        self.app = options.get("as", "")
        if self.app and self.app.lower() not in APP_COLUMNS:
            raise ConfigError(f"placement {self.name!r}: as={self.app!r} is not a table app "
                              f"({', '.join(APP_COLUMNS)}).")
        self.table_text = table
        lab_model(table)  # a missing or malformed table: refused now

    @property
    def model(self) -> LabModel:
        """The table's model (rebuilt when the file changed: path, size, mtime)."""
        return lab_model(self.table_text)

    # ------------------------------------------------------------------ declaring
    def prepare(self, service: ServiceSpec) -> str:
        """Refuse a service whose app is not in the table; store the table's absolute path."""
        self._column(service)
        parts = [p.strip() for p in service.placement.split(",")]
        if self.table_text != METIS_TABLE:
            parts = [f"table={self.model.path}" if p.startswith("table=") else p for p in parts]
        return ",".join(parts)

    def _column(self, service: ServiceSpec) -> int:
        name, column = column_of(service)
        where = f"interference table {self.model.path}"
        if not name:
            raise ConfigError(f"service {service.name!r} runs a {service.kind}, not an app: "
                              f"name its table column with as=APP in its placement "
                              f"({self.model.app_names()}).")
        if column is None or column not in self.model.apps:
            raise ConfigError(f"service {service.name!r}: app {name!r} is not in the {where} "
                              f"(its apps: {self.model.app_names()}); profile it with "
                              "`galileo profile` or name a column with as=APP.")
        return column

    # ------------------------------------------------------------------ placing
    def choose(self, service: ServiceSpec, nodes: Sequence[NodeView]) -> tuple[NodeView, str]:
        return self.choose_many(service, nodes, 1)[0]

    def choose_many(self, service: ServiceSpec, nodes: Sequence[NodeView], count: int,
                    cluster: Sequence[NodeView] = ()) -> list[tuple[NodeView, str]]:
        column = self._column(service)
        feasible = {n.name for n in nodes}
        live = sorted({n.name: n for n in (*cluster, *nodes)}.values(), key=lambda n: n.name)
        picks = self._plan(live, column, count)
        if picks is None:  # no room in the model anywhere: fewest instances among feasible
            node = min(nodes, key=lambda n: (n.instances, n.name))
            return [(node, f"{self.name}: every live node holds the table's capacity of "
                           f"{self.model.capacity} modelled instances; placed on the feasible "
                           f"node with the fewest instances ({node.instances})")]
        if all(n.name in feasible for n, _ in picks.picks):
            return self._reasons(picks, len(nodes), "")
        bad = sorted({n.name for n, _ in picks.picks if n.name not in feasible})
        again = self._plan([n for n in live if n.name in feasible], column, count)
        note = (f" ({self.name}'s pick {', '.join(bad)} is not feasible for {service.name}: "
                f"best feasible by {self.name})")
        if again is None:
            node = min(nodes, key=lambda n: (n.instances, n.name))
            return [(node, f"{self.name}: its pick {', '.join(bad)} is not feasible and the "
                           "feasible nodes are at the table's capacity; placed on the one "
                           "with the fewest instances")]
        return self._reasons(again, len(nodes), note)

    def _plan(self, live: Sequence[NodeView], column: int, count: int) -> _Plan | None:
        """The scheduler's picks (in node order) with every lab node's predicted node
        throughput before and after; None when the model has no room."""
        import numpy as np

        from galileo.scheduling.compositions import N_APPS, index_of
        from galileo.scheduling.schedulers import Cluster

        cap = self.model.capacity
        comps = np.array([self._composition(n) for n in live], dtype=np.int64).reshape(-1, N_APPS)
        fits = comps.sum(1) <= cap
        nodes = [n for n, ok in zip(live, fits, strict=True) if ok]
        initial = comps[fits]
        k = min(count, int((cap - initial.sum(1)).sum()))
        if k <= 0:
            return None
        batch = np.zeros(N_APPS, dtype=np.int64)
        batch[column] = k
        lab = Cluster(len(nodes), cap)
        sched = self.model.scheduler(self.scheduler, self.seed, self.budget)
        try:
            if self.scheduler == "metis":
                placed = sched.place_onto(batch, lab, initial)  # type: ignore[attr-defined]
            else:
                placed = sched.place(batch, lab, initial=initial)  # type: ignore[call-arg]
        except GalileoError as e:
            raise ConfigError(f"placement {self.name!r}: {e}") from None
        placed = np.asarray(placed, dtype=np.int64)
        added = placed[:, column] - initial[:, column]
        picks = [(nodes[i], i) for i in range(len(nodes)) for _ in range(max(0, int(added[i])))]
        tput = self.model.sim.node_tput
        return _Plan(picks, tput[index_of(initial)], tput[index_of(placed)])

    def _composition(self, node: NodeView) -> list[int]:
        counts = [0] * 7
        for svc, n in node.services.items():
            _, column = column_of(node.specs.get(svc))
            if column is not None and column in self.model.apps:
                counts[column] += n
        return counts

    def _reasons(self, plan: _Plan, n_feasible: int, note: str) -> list[tuple[NodeView, str]]:
        names = sorted({n.name for n, _ in plan.picks})
        gained = float(sum(plan.after[i] - plan.before[i] for i in {i for _, i in plan.picks}))
        out = []
        for node, i in plan.picks:
            what = (f"{self.name}: predicted node throughput {_num(plan.before[i])} → "
                    f"{_num(plan.after[i])} normalised")
            if len(plan.picks) > 1:
                what += (f", {len(plan.picks)} instances planned together on "
                         f"{', '.join(names)} (cluster {gained:+.2f})")
            out.append((node, f"{what} (best of {n_feasible} feasible){note}"))
        return out


@dataclass
class _Plan:
    picks: list[tuple[NodeView, int]]  # (node, its index in before/after)
    before: np.ndarray
    after: np.ndarray


def _num(value: float) -> str:
    return f"{value:.2f}" if value == value and abs(value) != float("inf") else "?"


class LabGreedy(LabPlacement):
    """The lab's greedy marginal gain on the live nodes."""

    name = "greedy"
    scheduler = "greedy"


class LabParagon(LabPlacement):
    """The lab's Paragon (interference classes from the table's rules) on the live nodes."""

    name = "paragon"
    scheduler = "paragon"


class LabMedea(LabPlacement):
    """The lab's Medea (ILP minimising rule violations) on the live nodes."""

    name = "medea"
    scheduler = "medea"


class LabOurs(LabPlacement):
    """The lab's ``ours`` (exact ILP vs greedy on predicted throughput) on the live nodes."""

    name = "ours"
    scheduler = "ours"


class LabMetis(LabPlacement):
    """The lab's Metis sub-scheduler for the live node count (trained on first use)."""

    name = "metis"
    scheduler = "metis"


class LabRoundRobin(LabPlacement):
    """The lab's round-robin (continuing after the instances already placed)."""

    name = "round-robin"
    scheduler = "round-robin"


LAB_PLACEMENTS: Final[tuple[type[LabPlacement], ...]] = (
    LabGreedy, LabParagon, LabMedea, LabOurs, LabMetis, LabRoundRobin)
