"""``galileo rtbl mirror-etcd``: keep Galileo 0.x's load-balancer keys in etcd in step."""

from __future__ import annotations

from typing import Annotated

import typer


def mirror_etcd_command(
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", help="etcd client URL, e.g. http://HOST:2379 "
                           "(default: galileo_etcd_mirror_endpoint).")] = None,
    zone: Annotated[str | None, typer.Option(
        "--zone", help="Zone in the key (default: galileo_etcd_mirror_zone, main).")] = None,
    prefix: Annotated[str | None, typer.Option(
        "--prefix", help="Key prefix (default: galileo_etcd_mirror_prefix, golb/function).",
    )] = None,
    user: Annotated[str, typer.Option("--user", help="etcd user (auth enabled).")] = "",
    password: Annotated[str, typer.Option("--password", envvar="ETCD_PASSWORD",
                                          help="etcd password (or ETCD_PASSWORD).")] = "",
) -> None:
    """Mirror the routing table into etcd (<prefix>/<zone>/<service> -> {"ips", "weights"})
    for Galileo 0.x's load balancer, until SIGTERM / Ctrl-C."""
    import asyncio
    import signal

    from rich.console import Console

    from galileo.interop.etcd import mirror_from_settings
    from galileo.settings import load_settings

    mirror = mirror_from_settings(load_settings(), endpoint, zone=zone, prefix=prefix,
                                  user=user, password=password)
    Console(stderr=True).print(f"mirroring the routing table to {mirror.etcd.endpoint} under "
                               f"{mirror.prefix}/{mirror.zone}/", markup=False, highlight=False)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await mirror.run(stop)

    asyncio.run(main())
