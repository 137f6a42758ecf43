"""``galileo lb serve|build|policy|policies|haproxy``: the load balancer on the routing table."""

from __future__ import annotations

import time
from typing import Annotated

import typer

__all__ = ["register"]


def _service_timeouts(items: list[str]) -> dict[str, tuple[float, float]]:
    from galileo.errors import ConfigError

    out: dict[str, tuple[float, float]] = {}
    for item in items:
        service, sep, rest = item.partition("=")
        connect, sep2, response = rest.partition(",")
        try:
            if not (sep and sep2 and service):
                raise ValueError
            out[service] = (float(connect), float(response))
        except ValueError:
            raise ConfigError(f"--timeout {item!r} must look like SERVICE=CONNECT_S,RESPONSE_S "
                              "(e.g. echo=0.5,2).") from None
        if min(out[service]) <= 0:
            raise ConfigError(f"--timeout {item!r}: timeouts must be > 0 seconds.")
    return out


def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8000,
    processes: Annotated[int, typer.Option(
        help="Balancer processes sharing the port (SO_REUSEPORT).")] = 1,
    cpus: Annotated[str, typer.Option(
        help="Pin to these CPUs, e.g. '2' or '2,3' (one per process).")] = "",
    name: Annotated[str, typer.Option(
        help="Balancer name (policy commands, traces).")] = "lb",
    policy: Annotated[str, typer.Option(
        help="wrr | least-outstanding | p2c | ewma | hash[,header=H] | module:Class."
    )] = "wrr",
    allow_policy_module: Annotated[list[str] | None, typer.Option(
        help="Module (package) user policies may be loaded from; repeatable.")] = None,
    service: Annotated[str | None, typer.Option(
        help="Serve only this service (default: chosen by Host header or /{service}/ "
             "path prefix).")] = None,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to connect.")] = 1.0,
    response_timeout: Annotated[float, typer.Option(
        help="Seconds from request to response head.")] = 10.0,
    timeout: Annotated[list[str] | None, typer.Option(
        help="Per-service timeouts SERVICE=CONNECT_S,RESPONSE_S; repeatable.")] = None,
    max_failures: Annotated[int, typer.Option(
        help="Consecutive errors/timeouts that eject a backend.")] = 3,
    backoff: Annotated[float, typer.Option(
        help="Seconds an ejected backend stays out (doubles on re-ejection).")] = 1.0,
    max_header_bytes: Annotated[int, typer.Option(
        help="Limit of request line + headers (431 beyond).")] = 16 * 1024,
    retries: Annotated[int, typer.Option(
        help="Other backends tried after a connect failure.")] = 1,
    check_path: Annotated[str | None, typer.Option(
        help="Active health check: GET this path on every backend.")] = None,
    check_interval: Annotated[float, typer.Option(help="Seconds between checks.")] = 1.0,
    trace: Annotated[bool, typer.Option(
        help="Record a lb trace per request while tracing is on.")] = True,
) -> None:
    """Proxy HTTP/1.1 to the services of the routing table until SIGTERM / Ctrl-C."""
    import logging

    from galileo.apps.server import parse_cpus
    from galileo.lb.native import activate
    from galileo.settings import load_settings

    settings = load_settings()
    native = activate(settings.lb_native, settings.data_dir)  # before the proxy is imported
    if not native.active:
        logging.getLogger("galileo.lb").debug("balancer runs %s", native.describe())
    from galileo.lb.server import LbOptions, serve

    options = LbOptions(
        host=host, port=port, processes=processes, cpus=parse_cpus(cpus) or [],
        name=name, policy=policy, allowed_modules=allow_policy_module or [],
        service=service, connect_timeout_s=connect_timeout,
        response_timeout_s=response_timeout,
        service_timeouts=_service_timeouts(timeout or []), max_failures=max_failures,
        backoff_s=backoff, max_header_bytes=max_header_bytes, retries=retries,
        check_path=check_path, check_interval_s=check_interval, trace=trace)
    serve(settings, options)


def policy_cmd(
    spec: Annotated[str, typer.Argument(help="Policy to switch to, e.g. p2c.")],
    name: Annotated[str, typer.Option(help="Balancer name ('*': all).")] = "lb",
) -> None:
    """Switch the policy of running balancers (every process, within milliseconds)."""
    from galileo import bus
    from galileo.lb.commands import switch_policy
    from galileo.settings import load_settings

    settings = load_settings()
    client = bus.connect(settings)
    try:
        switch_policy(client, settings.namespace, name, spec)
    finally:
        client.close()
    typer.echo(f"balancer {name}: policy {spec}")


def policies_cmd() -> None:
    """List the built-in balancing policies."""
    from galileo.lb.policies import BUILTIN_POLICIES, DEFAULT_POLICY

    for key, cls in BUILTIN_POLICIES.items():
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        mark = "  (default)" if key == DEFAULT_POLICY else ""
        typer.echo(f"{key:<18} {doc}{mark}")


def haproxy_cmd(
    socket_path: Annotated[str, typer.Option(
        "--socket", help="HAProxy runtime API: unix socket path or host:port.")],
    backend: Annotated[str, typer.Option(help="HAProxy backend to keep in sync.")],
    service: Annotated[str, typer.Option(help="Galileo service whose routing it follows.")],
    once: Annotated[bool, typer.Option(help="One pass, print what changed, exit.")] = False,
) -> None:
    """Keep a running HAProxy backend in step with the routing table (runtime API)."""
    import signal
    import threading

    from galileo.lb.haproxy import HaproxySync, RuntimeApi, run_sync
    from galileo.protocol import check_name
    from galileo.settings import load_settings

    settings = load_settings()
    check_name("service", service)
    sync = HaproxySync(RuntimeApi(socket_path), backend, service)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for line in run_sync(settings, sync, once=once, stop=stop,
                         announce=None if once else lambda s: typer.echo(s, err=True)):
        typer.echo(line)
    if once and sync.last_mapping is not None:
        typer.echo(f"weights {sync.last_mapping.weights}: {sync.last_mapping.describe()}")


def build_cmd(
    force: Annotated[bool, typer.Option(help="Build again even when up to date.")] = False,
    check: Annotated[bool, typer.Option(
        help="Only say whether a build for this source exists (exit 1 if not).")] = False,
) -> None:
    """Compile the balancer's hot path with mypyc (about a minute; needs a C compiler)."""
    from rich.console import Console

    from galileo.lb.native import MODULES, build, status
    from galileo.settings import load_settings

    settings = load_settings()
    built, root = status(settings.data_dir)
    if check:
        typer.echo(f"compiled balancer: {'built' if built else 'not built'} ({root})")
        raise typer.Exit(0 if built else 1)
    if built and not force:
        typer.echo(f"compiled balancer up to date: {root}")
        return
    console = Console(stderr=True)
    t0 = time.monotonic()
    with console.status(f"compiling {len(MODULES)} modules of galileo.lb with mypyc "
                        "(about a minute)..."):
        root = build(settings.data_dir, force=force)
    typer.echo(f"compiled balancer built in {time.monotonic() - t0:.0f} s: {root}\n"
               "`galileo lb serve` uses it from now on (galileo_lb_native=off: never).")


def register(app: typer.Typer) -> None:
    """Add the ``lb`` command group to the ``galileo`` CLI."""
    lb_cli = typer.Typer(name="lb", no_args_is_help=True,
                         help="HTTP load balancer on the routing table; HAProxy sync.")
    lb_cli.command("serve")(serve_cmd)
    lb_cli.command("build")(build_cmd)
    lb_cli.command("policy")(policy_cmd)
    lb_cli.command("policies")(policies_cmd)
    lb_cli.command("haproxy")(haproxy_cmd)
    app.add_typer(lb_cli)
