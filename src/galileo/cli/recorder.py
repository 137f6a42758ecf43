"""``galileo recorder``: run the recorder until SIGINT/SIGTERM."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``recorder`` command to ``app``."""

    @app.command("recorder")
    def recorder(
        consumer: str = typer.Option(None, help="Consumer name (default: <host>-<pid>)."),
        report_every: float = typer.Option(10.0, "--report-every", min=0.5,
                                           help="Seconds between progress lines."),
        claim_idle: float = typer.Option(5.0, "--claim-idle", min=0.0,
                                         help="Take over entries a dead recorder left "
                                              "pending this many seconds."),
        watchdog: bool = typer.Option(True, "--watchdog/--no-watchdog",
                                      help="Also run the cluster watchdog: restore state after "
                                           "Redis restarted empty, re-place dead workers' "
                                           "shares, fail experiments whose runner died."),
    ) -> None:
        """Record traces and events from the bus into the experiment database.

        The recorder also hosts the watchdog (see docs/reliability.md), because it is the
        one daemon every setup runs."""
        import signal
        import threading

        from galileo.process import quiet_gc
        from galileo.recorder.recorder import Recorder
        from galileo.settings import load_settings

        settings = load_settings()
        stop = threading.Event()

        def _stop(signum: int, _frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        dog = None
        if watchdog:  # hosted here; the recorder package itself stays below experiments
            from galileo.experiments.watchdog import start_in_thread

            dog = start_in_thread(settings, stop)
        mirror = None
        if settings.etcd_mirror_endpoint:  # Galileo 0.x's load balancer reads etcd
            from galileo.interop.etcd import start_in_thread as start_mirror

            mirror = start_mirror(settings, stop)
        quiet_gc()  # a tuple per stored trace: collections would take a tenth of the time
        with Recorder(settings, consumer=consumer, claim_idle_s=claim_idle) as rec:
            rec.run(stop, report_interval_s=report_every)
        for thread in (dog, mirror):
            if thread is not None:
                thread.join(5)
