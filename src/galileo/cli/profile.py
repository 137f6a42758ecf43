"""``galileo profile``: measure co-location interference, write a Metis-format dataset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from galileo.errors import ValidationError

if TYPE_CHECKING:
    from galileo.profiling import ProfileApp


def _cpus(text: str, option: str) -> tuple[int, ...]:
    try:
        cpus = tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        raise ValidationError(f"{option} {text!r}: expected CPU numbers like 1 or 2,3") from None
    if not cpus:
        raise ValidationError(f"{option} {text!r}: name at least one CPU")
    return cpus


def register(app: typer.Typer) -> None:
    """Add the ``profile`` command to ``app``."""

    @app.command("profile")
    def profile(
        apps: Annotated[list[str], typer.Argument(
            help="Services as `galileo app list` names them (ycsb: both of its mixes, "
                 "ycsb-a and ycsb-b): kv classify checksum ycsb scenedetect superres.")],
        max_per_node: Annotated[int, typer.Option(
            "--max-per-node", min=1, max=8, help="Most containers co-located on the node.")] = 2,
        duration: Annotated[int, typer.Option(min=1, help="Measured seconds per run.")] = 3,
        warmup: Annotated[float, typer.Option(min=0.0, help="Warm-up seconds per run.")] = 1.0,
        fraction: Annotated[float, typer.Option(
            help="Share of the non-solo compositions to run (sampled).")] = 1.0,
        seed: Annotated[int, typer.Option(help="Seed for --fraction sampling.")] = 0,
        node_cpus: Annotated[str, typer.Option(
            help="CPUs of the profiled node (default: the last core).")] = "",
        load_cpus: Annotated[str, typer.Option(
            help="CPUs for the local worker and recorder (default: the others).")] = "",
        cores: Annotated[float, typer.Option(help="CPU cores per container.")] = 1.0,
        memory_gib: Annotated[float, typer.Option(help="Memory limit per container.")] = 8.0,
        concurrency: Annotated[int, typer.Option(min=1,
                               help="Clients per container, each sending back to back.")] = 4,
        out: Annotated[Path, typer.Option(help="Output directory.")] = Path("profile"),
        name: Annotated[str, typer.Option(help="Name of the .npz file.")] = "profile",
        external_workers: Annotated[bool, typer.Option(
            "--external-workers", help="Use running workers instead of starting one.")] = False,
        testbed: Annotated[str, typer.Option(
            "--testbed", help="Measure on this running testbed's first host instead (its "
            "cgroup's quota; instances as pinned services, open loop at solo saturation).")]
        = "",
        rate: Annotated[float | None, typer.Option(
            min=0.1, help="With --testbed: drive at this rate instead of the measured solo "
            "saturation rate.")] = None,
    ) -> None:
        """Run every co-location of APPS (or a fraction) and write <out>/<name>.npz + rules."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        from galileo.profiling import ProfileConfig, Profiler, parse_apps, plan
        from galileo.settings import load_settings

        settings = load_settings()
        if testbed:
            _on_testbed(testbed, parse_apps(apps), max_per_node, duration, warmup, fraction,
                        seed, out, name, rate, node_cpus, load_cpus)
            return
        ncpu = os.cpu_count() or 1
        node = _cpus(node_cpus, "--node-cpus") if node_cpus else (ncpu - 1,)
        others = tuple(c for c in range(ncpu) if c not in node) or node
        load = _cpus(load_cpus, "--load-cpus") if load_cpus else others
        chosen = parse_apps(apps)
        cfg = ProfileConfig(apps=chosen, out_dir=out, max_per_node=max_per_node,
                            duration_s=duration, warmup_s=warmup, fraction=fraction, seed=seed,
                            node_cpus=node, load_cpus=load, cores_per_container=cores,
                            memory_bytes=int(memory_gib * (1 << 30)), concurrency=concurrency,
                            name=name, local_worker=not external_workers)
        total = len(plan(len(chosen), max_per_node, fraction, seed))
        console = Console()
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task("compositions", total=total)
            result = Profiler(settings, cfg).run(
                lambda done, _total: bar.update(task, completed=done))
        console.print(f"experiment [bold]{result.exp_id}[/]: {len(result.rows)} compositions "
                      f"(limits: {result.limits})")
        for app_name, rps in result.solo_rps.items():
            console.print(f"  solo {app_name}: {rps:.1f} req/s")
        console.print(f"wrote {result.npz} and {result.rules}")


def _on_testbed(prefix: str, apps: list[ProfileApp], max_per_node: int, duration: int,
                warmup: float, fraction: float, seed: int, out: Path, name: str,
                rate: float | None, host_cores: str, load_cores: str) -> None:
    from rich.console import Console

    from galileo.cli.sched import _steps
    from galileo.evaluation.rig import default_cores
    from galileo.evaluation.runs import Drive
    from galileo.evaluation.session import testbed_session
    from galileo.evaluation.testbed_profile import profile_on_testbed
    from galileo.settings import load_settings

    console = Console()
    with testbed_session(load_settings().data_dir, prefix,
                         default_cores(host_cores, load_cores)) as s:
        if s.note:
            console.print(f"[yellow]note:[/] {s.note}")
        with _steps(console, "profiling") as (note, step):
            result = profile_on_testbed(s.g, s.worker, apps, s.hosts[0], out, name,
                                        Drive(warmup, duration), max_per_node, fraction, seed,
                                        rate, note, step)
    console.print(f"experiment [bold]{result.exp_id}[/] on {s.hosts[0]}: "
                  f"{len(result.rows)} compositions")
    for solo in result.solos.values():
        console.print(f"  solo {solo.app}: driven at {solo.rate:.1f} req/s, achieved "
                      f"{solo.achieved:.1f} (generator "
                      f"{'kept up' if solo.generator_kept_up else 'behind'})")
    console.print(f"wrote {result.npz} and {result.rules}")
