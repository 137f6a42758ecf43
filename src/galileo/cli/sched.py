"""``galileo sched …``: simulator fidelity and scheduler comparisons."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from galileo.scheduling.dataset import Dataset
    from galileo.scheduling.experiment import Result

DataDirOpt = Annotated[Path | None, typer.Option(
    "--data-dir", help="Metis data directory (default: setting galileo_sched_data_dir, else "
    "the Metis data shipped with Galileo).")]
TableOpt = Annotated[Path | None, typer.Option(
    "--table", help="Complete interference table (.npz, e.g. from `galileo profile`).")]
SyntheticOpt = Annotated[int | None, typer.Option(
    "--synthetic", help="Use the seeded synthetic interference model with this seed.")]


SCHEDULERS_HELP = (
    "Comma-separated names (default all): round-robin; greedy (each container to the node "
    "where it adds the most throughput); paragon; medea (ILP minimising weighted rule slack); "
    "vanilla-rl; dc; metis (hierarchical RL whose policies are first distilled from greedy "
    "demonstrations, i.e. behaviour cloning of greedy plus greedy marginal gains as inputs); "
    "metis-pg (the same hierarchy trained by policy gradient alone, as in the paper); ours "
    "(exact ILP over node compositions up to 243 nodes, LP rounding + local search beyond, "
    "with its gap to the LP bound).")


def _dataset(data_dir: Path | None, table: Path | None, synthetic: int | None) -> Dataset:
    from galileo.scheduling.data import METIS_DATA_DIR
    from galileo.scheduling.dataset import load_dataset, synthetic_dataset
    from galileo.settings import load_settings

    settings = load_settings()
    cache = settings.data_dir / "sched-cache"
    if synthetic is not None:
        return synthetic_dataset(synthetic, cache)
    return load_dataset(data_dir or settings.sched_data_dir or METIS_DATA_DIR, table, cache)


def fidelity(data_dir: DataDirOpt = None, table: TableOpt = None,
             synthetic: SyntheticOpt = None) -> None:
    """Compare the RF simulator with the exact table: per-container MAE, node-throughput error."""
    from rich.console import Console

    from galileo.scheduling.sim import fidelity as measure

    ds = _dataset(data_dir, table, synthetic)
    stats = measure(ds.sim("table"), ds.sim("rf"))
    console = Console()
    console.print(f"RF simulator ({len(ds.train.alloc)} training rows) vs table "
                  f"({int(stats['compositions'])} compositions):")
    for key, value in stats.items():
        if key != "compositions":
            console.print(f"  {key:<26} {value:.4f}")


SimOpt = "table (the measured ground truth), rf (Metis' random forest trained on the 20 % data) " \
    "or the path of a measured table, e.g. from `galileo profile`"


def compare(
    nodes: Annotated[int, typer.Option(min=1, help="Cluster size (nodes of 8 slots).")] = 81,
    batch: Annotated[int, typer.Option(min=1, help="Containers per batch.")] = 200,
    rows: Annotated[str, typer.Option(help="Batch rows, e.g. 0-29 or 0,3,5-7.")] = "0-29",
    schedulers: Annotated[str | None, typer.Option(help=SCHEDULERS_HELP)] = None,
    plan_sim: Annotated[str, typer.Option(
        help=f"Simulator every scheduler plans (and learns) on: {SimOpt}.")] = "rf",
    score_sim: Annotated[str, typer.Option(
        help=f"Simulator the placements are scored on: {SimOpt}.")] = "table",
    csv: Annotated[Path | None, typer.Option("--csv", help=(
        "Write the summary as CSV (and one line per scheduler and row to <stem>-rows.csv)."))]
    = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG (bars + RL curves).")] = None,
    budget: Annotated[float, typer.Option(min=0.01, help="RL training-budget multiplier.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed for the learning schedulers.")] = 0,
    medea_node_limit: Annotated[int, typer.Option(
        min=1, help="Medea's ILP budget in branch-and-bound nodes (deterministic).")] = 2000,
    checkpoint_dir: Annotated[Path | None, typer.Option(
        help="Save/resume RL training here.")] = None,
    data_dir: DataDirOpt = None, table: TableOpt = None, synthetic: SyntheticOpt = None,
) -> None:
    """Run schedulers on the same batches: each plans on --plan-sim only, every placement is
    scored on --score-sim. Prints mean ± std throughput, rule violations and costs.

    Fair protocol (default): plan on the RF model, score on the measured table. Oracle
    protocol: --plan-sim table --score-sim table. Learned methods (vanilla-rl, dc, metis,
    metis-pg) all place with the same rule: the best of their argmax rollout and 16 sampled
    rollouts, judged by the planning simulator."""
    from galileo.errors import ValidationError
    from galileo.scheduling.data import parse_rows
    from galileo.scheduling.experiment import compare as run
    from galileo.scheduling.experiment import plot as draw
    from galileo.scheduling.experiment import write_csv
    from galileo.scheduling.schedulers import Cluster, Context, parse_schedulers

    names = parse_schedulers(schedulers)
    row_ids = parse_rows(rows)
    ds = _dataset(data_dir, table, synthetic)
    planner, scorer = ds.simulator(plan_sim), ds.simulator(score_sim)
    all_batches = ds.batches(batch)
    if max(row_ids) >= len(all_batches):
        raise ValidationError(f"--rows {rows}: only rows 0-{len(all_batches) - 1} exist for "
                              f"batch size {batch}")
    cluster = Cluster(nodes, capacity=ds.capacity)
    with _progress() as progress:
        def ctx_for(name: str) -> Context:
            return Context(planner, ds.rules, seed=seed, checkpoint_dir=checkpoint_dir,
                           budget=budget, progress=progress.callback(name),
                           extra={"medea_node_limit": medea_node_limit})

        results = run(names, ctx_for, all_batches[row_ids], cluster, scorer, row_ids)
    title = (f"{nodes} nodes, batch {batch}, rows {rows}: plan on {planner.name}, "
             f"score on {scorer.name}")
    _print_table(results, title, planner.name, scorer.name)
    if csv is not None:
        write_csv(results, csv)
    if plot is not None:
        draw(results, plot, title)


class _Progress:
    """Rich progress bars, one per training scheduler, fed by ``Context.progress``."""

    def __init__(self) -> None:
        from rich.progress import Progress

        self.bars = Progress(transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def callback(self, name: str) -> Any:
        def update(episode: int, total: int, tput: float) -> None:
            if name not in self.tasks:
                self.tasks[name] = self.bars.add_task(f"training {name}", total=total)
            self.bars.update(self.tasks[name], completed=episode,
                             description=f"training {name} (tput {tput:.3f})")
        return update


def _progress() -> _Progress:
    return _Progress()


def _print_table(results: list[Result], title: str, plan: str, score: str) -> None:
    from rich.console import Console

    from galileo.tables import Table

    t = Table(title=title, caption=(
        "violations: containers breaking ≥ 1 placement rule (unweighted); slack: Medea's "
        "weighted per-container slack; learned methods: best of argmax + 16 samples by the "
        "planning sim"))
    for col in ("scheduler", f"tput on {score} (mean ± std)", f"tput on {plan}", "violations",
                "slack", "latency (s)", "train (s)", "note"):
        t.add_column(col, justify="left" if col in ("scheduler", "note") else "right")
    for r in results:
        t.add_row(r.scheduler, f"{r.mean_tput:.4f} ± {r.std_tput:.4f}", f"{r.plan_tput:.4f}",
                  f"{r.violating:.1f}", f"{r.slack:.1f}", f"{r.latency_s:.4f}",
                  f"{r.train_s:.1f}", r.note)
    Console().print(t)


PrefixOpt = Annotated[str, typer.Option("--prefix", help="The running testbed's prefix.")]
HostCoresOpt = Annotated[str, typer.Option(
    "--host-cores", help="Cores the hosts' cgroups are pinned to (default: the last).")]
LoadCoresOpt = Annotated[str, typer.Option(
    "--load-cores", help="Cores of the load worker, Redis and the recorder (default: the "
    "others).")]


def validate(
    table: Annotated[str, typer.Option(
        "--table", help="Interference table: the .npz `galileo profile --testbed` wrote, "
        "or metis.")],
    schedulers: Annotated[str, typer.Option(
        help="Comma-separated lab schedulers, e.g. greedy,round-robin,medea.")]
    = "greedy,round-robin",
    batch: Annotated[str, typer.Option(
        help="Instances per app, e.g. checksum=2,ycsb-a=2 (CPU-bound apps: kv is limited "
        "by the load worker).")] = "checksum=2,ycsb-a=2",
    repeats: Annotated[int, typer.Option(min=1, max=30, help="Measurements per scheduler.")]
    = 3,
    duration: Annotated[int, typer.Option(min=1, help="Measured seconds per repeat.")] = 3,
    warmup: Annotated[float, typer.Option(min=0.0, help="Warm-up seconds per repeat.")] = 1.0,
    rate: Annotated[float | None, typer.Option(
        min=0.1, help="Drive every instance at this rate (req/s) instead of its app's "
        "measured solo saturation rate.")] = None,
    out: Annotated[Path, typer.Option(help="Directory of the CSV files and the PNG.")]
    = Path("sched-validate"),
    seed: Annotated[int, typer.Option(help="Random seed for the schedulers.")] = 0,
    budget: Annotated[float, typer.Option(min=0.01, help="metis' training budget.")] = 0.2,
    prefix: PrefixOpt = "pico", host_cores: HostCoresOpt = "", load_cores: LoadCoresOpt = "",
) -> None:
    """Run the lab's placements on the running testbed: per scheduler the predicted and the
    measured mean normalised throughput (95 % CI over repeats), per instance predicted vs
    measured, the MAE and Kendall tau of the scheduler orderings; one experiment per
    scheduler; CSV files and a PNG in --out."""
    from rich.console import Console

    from galileo.evaluation.output import tables, write_csv, write_png
    from galileo.evaluation.rig import default_cores
    from galileo.evaluation.runs import Drive
    from galileo.evaluation.session import testbed_session
    from galileo.evaluation.validate import ValidateConfig, check_batch, parse_batch, run
    from galileo.scheduling.schedulers import parse_schedulers
    from galileo.services.lab_placement import lab_model
    from galileo.settings import load_settings

    names = parse_schedulers(schedulers)
    wanted = parse_batch(batch)
    model = lab_model(table)
    check_batch(model, wanted)
    console = Console()
    with testbed_session(load_settings().data_dir, prefix,
                         default_cores(host_cores, load_cores)) as s:
        check_batch(model, wanted, s.hosts)
        if s.note:
            console.print(f"[yellow]note:[/] {s.note}")
        cfg = ValidateConfig(table, names, wanted, s.hosts, repeats,
                             Drive(warmup, duration), rate, seed, budget)
        with _steps(console, "validating") as (note, step):
            result = run(s.g, s.worker, model, cfg, note, step)
    for t in tables(result):
        console.print(t)
    _generator_verdict(console, result)
    best_p, best_m = result.predicted_best, result.measured_best
    console.print(f"MAE per instance {result.mae:.3f}; Kendall tau of the orderings "
                  f"{result.tau:.2f}; predicted best {best_p.name}, measured best "
                  f"{best_m.name}" + ("" if best_p is best_m else
                                      f" (by {best_m.measured.mean - best_p.measured.mean:.3f}"
                                      " measured)"))
    paths = [*write_csv(result, out), write_png(result, out / "validate.png")]
    console.print("wrote " + ", ".join(str(p) for p in paths))
    console.print(f"compare two: galileo testbed run --prefix {prefix} -- galileo report "
                  + " ".join(r.exp_id for r in result.schedulers[:2]))


def _generator_verdict(console: Any, result: Any) -> None:
    """Say whether the load worker ever saturated (solo runs and every scheduler's windows)."""
    from galileo.evaluation.output import behind_share

    solo = [x.app for x in result.solos.values() if not x.generator_kept_up]
    runs = {s.name: behind_share(s) for s in result.schedulers if behind_share(s) > 0}
    if not solo and not runs:
        console.print("generators: never saturated (every window sent ≥ 97 % of its rate, or "
                      "the instance itself held requests back)")
        return
    where = [f"solo {a}" for a in solo] + [f"{n} ({share:.0%} of instance-windows)"
                                           for n, share in runs.items()]
    console.print("[red]generators: behind[/] in " + ", ".join(where) + ": those measurements "
                  "are about the load side, not the instances; lower --rate or the batch")


def _steps(console: Any, what: str) -> Any:
    """A rich progress bar; yields (note, step) callbacks."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    @contextlib.contextmanager
    def bar() -> Any:
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console) as p:
            task = p.add_task(what, total=None)

            def note(message: str) -> None:
                p.update(task, description=message)

            def step(done: int, total: int) -> None:
                p.update(task, completed=done, total=total)

            yield note, step
    return bar()


def register(app: typer.Typer) -> None:
    """Add the ``sched`` sub-app (``fidelity``, ``compare``)."""
    sched = typer.Typer(help="Scheduling lab: interference simulators and schedulers.",
                        no_args_is_help=True)
    sched.command("fidelity")(fidelity)
    sched.command("compare")(compare)
    sched.command("validate")(validate)
    app.add_typer(sched, name="sched")
