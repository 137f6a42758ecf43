"""Dashboard and report figures.

    .venv/bin/python benchmarks/dashboard.py [--part all|latency|cpu|report|weight]
        [--traces 1000000] [--repeat 5]

``latency``: time from a request being sent to it being counted in the live chart of a browser.
A real worker, recorder and echo app, the dashboard (uvicorn, in-process) and Debian's Chromium
(Playwright) on the run page. The page is polled every animation frame for the newest second in
the rate chart; a request sent at ``intended_ns`` is visible when its second first appears in the
chart. Percentiles over every request of a ``--seconds`` run at ``--rps``.

``cpu``: server CPU per connected browser at 20 services x 50 workers. The workers are faked:
20 client groups (GroupInfo records) with 50 workers each, and one thread publishing every
second, per group and worker, a ``GroupStats`` entry with a real encoded HdrHistogram to the
group's stats stream -- the exact Redis protocol real workers use (1,000 entries/s). ``galileo
api`` runs as a subprocess; N SSE clients (what a browser's EventSource does) stay connected
while its CPU time is measured over ``--window`` s, for N = 0, 1, 5, 10.

``report``: ``--traces`` traces (20 services, 100 s, lognormal latencies) in a SQLite expdb;
time of ``write_report`` (aggregation + HTML) as the median of 3 runs, and the file's size.

``weight``: what a cold browser (Chromium, empty cache) transfers for each page and how long
the page takes to its ``load`` event (median of ``--repeat``), on two synthetic 20 s runs at
50 req/s; and the size of the one-run and the two-run report files.

Redis: ``GALILEO_TEST_REDIS_URL`` (default the local one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from galileo.settings import Settings

REDIS_URL = os.environ.get("GALILEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NS = 1_000_000_000


def _settings(tmp: Path) -> Settings:
    return Settings.from_env({"galileo_redis_url": REDIS_URL,
                              "galileo_namespace": "bench-dash-" + uuid.uuid4().hex[:6],
                              "galileo_data_dir": str(tmp / "data"),
                              "galileo_expdb_sqlite_path": str(tmp / "expdb.sqlite"),
                              "galileo_log_level": "WARNING"})


def _cleanup(settings: Settings) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{settings.namespace}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


# ---------------------------------------------------------------------- report
def bench_report(n_traces: int, tmp: Path) -> None:
    from galileo.analysis.report import write_report
    from galileo.protocol import Trace
    from galileo.storage import ExpDB, ExperimentStatus

    db = ExpDB(f"sqlite:///{tmp / 'report.sqlite'}")
    exp_id = "bench-1m"
    db.create_experiment("1M traces", exp_id=exp_id, status=ExperimentStatus.RUNNING)
    rng = np.random.default_rng(1)
    t0 = time.time_ns() - 200 * NS
    seconds = 100
    step = seconds * NS // n_traces
    lat = (rng.lognormal(1.5, 0.6, n_traces) * 1e6).astype(np.int64)
    t = time.monotonic()
    batch: list[Trace] = []
    for i in range(n_traces):
        intended = t0 + i * step
        batch.append(Trace(request_id=f"r{i}", exp_id=exp_id, group_id=f"g{i % 20}",
                           client_id="c", worker=f"w{i % 50}", service=f"svc{i % 20}",
                           host=f"h{i % 10}:80", method="GET", path="/", intended_ns=intended,
                           sent_ns=intended + 1000, done_ns=intended + int(lat[i]),
                           status=500 if i % 997 == 0 else 200))
        if len(batch) == 20_000:
            db.insert_traces(batch)
            batch = []
    db.insert_traces(batch)
    db.finish(exp_id, ExperimentStatus.FINISHED, at=(t0 + seconds * NS) / NS)
    print(f"report: stored {db.count_traces(exp_id):,} traces in {time.monotonic() - t:.0f} s")
    times, cpu = [], []
    out = tmp / "report.html"
    for _ in range(3):
        t, c = time.monotonic(), time.process_time()
        write_report(db, [exp_id], out)
        times.append(time.monotonic() - t)
        cpu.append(time.process_time() - c)
    print(f"report: {n_traces:,} traces -> {statistics.median(times):.2f} s wall, "
          f"{statistics.median(cpu):.2f} s CPU (medians of 3; wall "
          f"{', '.join(f'{x:.1f}' for x in times)}), {out.stat().st_size / 1e6:.1f} MB "
          f"(goal <= 10 s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    db.close()


# ---------------------------------------------------------------------- weight
def bench_weight(tmp: Path, repeat: int) -> None:
    import json

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "dashboard"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from browserkit import CHROMIUM, CHROMIUM_ARGS, Server
    from playwright.sync_api import sync_playwright

    from galileo.analysis.report import load_run, render_report
    from galileo.storage import ExpDB
    from reportdata import make_run

    settings = _settings(tmp)
    db = ExpDB.from_settings(settings)
    make_run(db, "w-a", seconds=20, rps=50, seed=1, name="baseline")
    make_run(db, "w-b", seconds=20, rps=50, scale_ms=6.0, seed=2, name="slower")
    pages = {"list": "/", "run": "/runs/w-a", "compare": "/compare?id=w-a&id=w-b",
             "designer": "/designer", "404": "/no-such-page"}
    figures: dict[str, object] = {}
    try:
        with Server(settings) as srv, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, path in pages.items():
                sizes, times = [], []
                for _ in range(repeat):
                    context = browser.new_context()  # a cold cache every time
                    page = context.new_page()
                    got: list[int] = []
                    page.on("requestfinished", lambda r, got=got: got.append(
                        r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]))
                    t = time.monotonic()
                    page.goto(srv.url + path, wait_until="load")
                    times.append(time.monotonic() - t)
                    page.wait_for_load_state("networkidle")
                    sizes.append(sum(got))
                    context.close()
                figures[name] = {"kB": round(statistics.median(sizes) / 1000, 1),
                                 "load_s": round(statistics.median(times), 3)}
                print(f"weight: {name:8s} {statistics.median(sizes) / 1000:8.1f} kB "
                      f"transferred, load {statistics.median(times):.3f} s (median of {repeat})")
            browser.close()
        one = len(render_report([load_run(db, "w-a")]).encode())
        two = len(render_report([load_run(db, "w-a"), load_run(db, "w-b")]).encode())
        print(f"weight: report of one run {one / 1e6:.2f} MB, of two runs {two / 1e6:.2f} MB "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        figures.update(report_one_MB=round(one / 1e6, 3), report_two_MB=round(two / 1e6, 3),
                       load_average=round(os.getloadavg()[0], 1))
        print(json.dumps({"benchmark": "dashboard-weight", **figures}))
    finally:
        db.close()
        _cleanup(settings)


# ---------------------------------------------------------------------- cpu
def _fake_cluster(settings: Settings, exp_id: str, services: int, workers: int,
                  stop: threading.Event) -> threading.Thread:
    from hdrh.histogram import HdrHistogram

    from galileo import bus
    from galileo.protocol import (
        ArrivalSpec,
        GroupInfo,
        GroupStats,
        Keys,
        RequestSpec,
        StatsField,
        encode,
    )

    keys = Keys(settings.namespace)
    r = bus.connect(settings)
    hists = []
    rng = np.random.default_rng(2)
    for _ in range(8):
        h = HdrHistogram(1, 60_000_000, 2)
        for v in rng.lognormal(8, 0.5, 100):
            h.record_value(int(v))
        hists.append(h.encode())
    gids = [f"bench{i:02d}" for i in range(services)]
    wnames = [f"fake-w{j:02d}" for j in range(workers)]
    for i, gid in enumerate(gids):
        info = GroupInfo(gid=gid, service=f"svc{i:02d}",
                         placement={w: [f"{w}-c0"] for w in wnames}, request=RequestSpec(),
                         arrival=ArrivalSpec(), rps=100.0 * workers, exp_id=exp_id)
        r.hset(keys.group(gid), "info", encode(info))
        r.sadd(keys.groups, gid)

    def publish() -> None:
        k = 0
        while not stop.is_set():
            second = int(time.time())
            pipe = r.pipeline(transaction=False)
            for gid in gids:
                for w in wnames:
                    k += 1
                    e = GroupStats(gid=gid, worker=w, second=second - 1, target_rps=100.0,
                                   sent=100, done=100, errors=0, late=0, inflight=1,
                                   hist_intended=hists[k % 8], hist_actual=hists[(k + 1) % 8])
                    pipe.xadd(keys.group_stats(gid), {StatsField: encode(e)},
                              maxlen=400 * workers, approximate=True)
            pipe.execute()
            stop.wait(max(0.0, second + 1 - time.time()))

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    return thread


def _sse_client(url: str, stop: threading.Event, got: list[int]) -> None:
    """What a browser's EventSource does: read the stream, reconnect when it ends."""
    import httpx

    with httpx.Client(timeout=None) as client:
        while not stop.is_set():
            try:
                with client.stream("GET", url) as resp:
                    for line in resp.iter_lines():
                        if line.startswith("event: snapshot"):
                            got.append(1)
                        if stop.is_set():
                            return
            except httpx.HTTPError:  # the server went away (the end of the benchmark)
                return
            time.sleep(0.2)  # the stream's retry: interval


def bench_cpu(tmp: Path, window_s: float) -> None:
    import psutil

    from galileo.localenv import free_port
    from galileo.storage import ExpDB, ExperimentStatus

    settings = _settings(tmp)
    exp_id = "bench-live"
    with ExpDB.from_settings(settings) as db:
        db.create_experiment("live", exp_id=exp_id, status=ExperimentStatus.RUNNING)
    stop = threading.Event()
    _fake_cluster(settings, exp_id, 20, 50, stop)
    port = free_port()
    env = {**os.environ, **{k: str(v) for k, v in {
        "galileo_redis_url": REDIS_URL, "galileo_namespace": settings.namespace,
        "galileo_data_dir": str(tmp / "data"),
        "galileo_expdb_sqlite_path": str(tmp / "expdb.sqlite"),
        "galileo_log_level": "WARNING"}.items()}}
    server = subprocess.Popen([sys.executable, "-m", "galileo", "api", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/ui/api/runs/{exp_id}/live"
    clients: list[threading.Event] = []
    try:
        proc = psutil.Process(server.pid)
        _wait_http(f"http://127.0.0.1:{port}/health")
        results = {}
        for n in (0, 1, 5, 10):
            while len(clients) < n:
                ev, got = threading.Event(), []
                threading.Thread(target=_sse_client, args=(url, ev, got), daemon=True).start()
                clients.append(ev)
            time.sleep(2.0)  # the new clients' first snapshots
            before = sum(proc.cpu_times()[:2])
            time.sleep(window_s)
            cpu = (sum(proc.cpu_times()[:2]) - before) / window_s * 100
            results[n] = cpu
            print(f"cpu: {n:2d} SSE client(s): server {cpu:5.1f} % of one core")
        per = (results[10] - results[1]) / 9
        print(f"cpu: 20 services x 50 workers (1,000 stats entries/s): first browser "
              f"{results[1] - results[0]:.1f} % of a core (builds the shared snapshot), each "
              f"further browser {per:.2f} %")
    finally:
        stop.set()
        for ev in clients:
            ev.set()
        t = time.monotonic()
        server.terminate()
        try:
            server.wait(30)
            print(f"cpu: the server stopped {time.monotonic() - t:.1f} s after SIGTERM")
        except subprocess.TimeoutExpired:
            print("cpu: the server did not stop within 30 s of SIGTERM; killed")
            server.kill()
            server.wait()
        _cleanup(settings)


def _wait_http(url: str, timeout_s: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout_s:.0f} s")


# ---------------------------------------------------------------------- latency
POLL_JS = """() => {
  window.__seen = {};
  const loop = () => {
    const fig = document.getElementById('fig-rate');
    if (fig && fig.data) for (const t of fig.data) {
      if (!t.name.endsWith('sent/s')) continue;
      t.x.forEach((x, i) => {
        if (t.y[i] > 0 && !(x in window.__seen)) window.__seen[x] = Date.now();
      });
    }
    requestAnimationFrame(loop);
  };
  loop();
}"""


def bench_latency(tmp: Path, seconds: int, rps: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "dashboard"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from browserkit import CHROMIUM, CHROMIUM_ARGS, Server
    from playwright.sync_api import sync_playwright

    from galileo.apps.background import start_in_thread
    from galileo.control import Galileo
    from galileo.localenv import ProcessGroup
    from galileo.storage import ExpDB

    settings = _settings(tmp)
    app = start_in_thread(("echo",))
    procs = ProcessGroup(settings)
    g = Galileo.from_settings(settings)
    db = ExpDB.from_settings(settings)
    try:
        procs.start("worker", ["worker", "--name", "bench-w", "--processes", "1"])
        procs.start("recorder", ["recorder"])
        _until(lambda: [w.name for w in g.workers()] == ["bench-w"], 60)
        g.rtbl.set("echo", [f"{app.host}:{app.port}"])
        exp_id = g.experiment.start(name="latency bench")
        _until(lambda: db.get_experiment(exp_id) is not None, 30)
        exp = db.get_experiment(exp_id)
        assert exp is not None and exp.start is not None
        t0 = int(exp.start)
        with Server(settings) as srv, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{srv.url}/runs/{exp_id}")
            page.evaluate(POLL_JS)
            group = g.spawn("echo", 2, hosts="bench-w", rps=rps)
            time.sleep(seconds)
            group.close()
            time.sleep(3)
            seen = {int(float(k)) + t0: v / 1000 for k, v in page.evaluate("window.__seen").items()}
            browser.close()
        g.experiment.stop()
        time.sleep(2)
        delays = [seen[(r["intended_ns"] // NS)] - r["intended_ns"] / NS
                  for r in db.traces(exp_id) if (r["intended_ns"] // NS) in seen]
        arr = np.array(delays)
        print(f"latency: {arr.size:,} requests at {rps}/s: sent -> visible in the live chart "
              f"p50 {np.percentile(arr, 50):.2f} s, p99 {np.percentile(arr, 99):.2f} s, "
              f"max {arr.max():.2f} s (goal <= 1.5 s)")
    finally:
        procs.stop_all()
        g.close()
        db.close()
        app.stop()
        _cleanup(settings)


def _until(pred: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["all", "latency", "cpu", "report", "weight"],
                    default="all")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--traces", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--rps", type=int, default=100)
    ap.add_argument("--window", type=float, default=10.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.part in ("all", "latency"):
            bench_latency(tmp, args.seconds, args.rps)
        if args.part in ("all", "cpu"):
            bench_cpu(tmp, args.window)
        if args.part in ("all", "report"):
            bench_report(args.traces, tmp)
        if args.part in ("all", "weight"):
            bench_weight(tmp, args.repeat)


if __name__ == "__main__":
    main()
