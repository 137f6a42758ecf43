"""The dashboard in a real browser (Chromium via Playwright) against a real server, Redis,
worker, recorder, echo app and Celery runner. Each test also fails on a request leaving the
dashboard or a console error (see conftest.Watched)."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from browserkit import ARTIFACTS, Server, Watched
from pydantic import SecretStr

from galileo.analysis.report import write_report
from galileo.apps.background import start_in_thread
from galileo.control import Galileo
from galileo.experiments.scenario import parse_scenario
from galileo.localenv import ProcessGroup
from galileo.settings import Settings
from galileo.storage import ExpDB, ExperimentStatus
from galileo.web.dashboard.auth import COOKIE
from reportdata import make_run
from waiting import until

README_SHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard-run.png"
WORKER = "dash-worker"


@pytest.fixture(scope="module")
def db(dash_settings: Settings) -> Iterator[ExpDB]:
    with ExpDB.from_settings(dash_settings) as d:
        yield d


@pytest.fixture(scope="module")
def recorded(db: ExpDB) -> tuple[str, str]:
    """Two finished runs; B's latencies are 1.5x A's."""
    make_run(db, "dash-a", seconds=20, rps=50, scale_ms=4.0, seed=1, name="baseline")
    make_run(db, "dash-b", seconds=20, rps=50, scale_ms=6.0, seed=2, name="slower")
    return "dash-a", "dash-b"


@pytest.fixture(scope="module")
def cluster(dash_settings: Settings) -> Iterator[Galileo]:
    """A real worker and recorder (subprocesses) and an echo app routed as ``echo``."""
    app = start_in_thread(("echo",))
    procs = ProcessGroup(dash_settings)
    g = Galileo.from_settings(dash_settings)
    try:
        procs.start("worker", ["worker", "--name", WORKER, "--processes", "1"])
        procs.start("recorder", ["recorder"])
        until(lambda: [w.name for w in g.workers()] == [WORKER], 60, "the worker")
        g.rtbl.set("echo", [f"{app.host}:{app.port}"])
        yield g
    finally:
        procs.stop_all()
        g.close()
        app.stop()


def _open(page: Watched, url: str) -> Any:
    page.page.goto(url)
    return page.page


def test_experiments_list_shows_runs_and_compare_shows_both(page: Watched, server: Server,
                                                            recorded: tuple[str, str]) -> None:
    a, b = recorded
    p = _open(page, server.url + "/")
    row = p.locator(f'tr[data-exp="{a}"]')
    assert row.locator("td").nth(2).inner_text() == "baseline"
    assert "FINISHED" in row.inner_text() and "1,000" in row.inner_text()
    p99 = row.locator("td").nth(9).inner_text()
    p.goto(f"{server.url}/runs/{a}")
    assert p.inner_text(".headline .p99") == p99  # one p99 per run: the exact one
    p.goto(server.url + "/")
    p.fill("#search", "slower")
    p.press("#search", "Enter")
    p.wait_for_url("**/?q=slower**")
    assert p.locator("tr[data-exp]").count() == 1 and p.locator(f'tr[data-exp="{b}"]').count()
    p.goto(server.url + "/")
    page.shot("experiments")
    p.check(f'input[value="{a}"]')
    p.check(f'input[value="{b}"]')
    p.click("#compare-selected")
    p.wait_for_selector("#comparison")
    text = p.locator("#comparison").inner_text()
    assert f"{b} vs {a}" in text
    assert "p99 is" in text and "% higher in dash-b" in text  # the verdict, with its interval
    # both runs are drawn in the overlay (one trace per run and service)
    p.wait_for_function("document.querySelector('#fig-compare-p99 .main-svg') !== null")
    names = p.evaluate("document.getElementById('fig-compare-p99').data.map(t => t.name)")
    assert names == [f"{a} echo", f"{b} echo"]
    page.shot("compare")


def test_unknown_run_is_a_404_page_and_a_deleted_run_says_so(page: Watched, server: Server,
                                                             db: ExpDB) -> None:
    p = page.page
    response = p.goto(server.url + "/runs/no-such-run")
    assert response is not None and response.status == 404
    assert "unknown experiment 'no-such-run'" in p.locator("#not-found").inner_text()
    make_run(db, "dash-doomed", seconds=2, rps=10)
    p.goto(server.url + "/runs/dash-doomed")
    assert p.locator("#gone").is_hidden()
    gone = p.request.delete(server.url + "/experiments/dash-doomed")  # the REST API's delete
    assert gone.status == 204, gone.text()
    p.wait_for_selector("#gone", state="visible", timeout=10_000)
    page.console_errors.clear()  # the 404 of the deletion probe is expected in the console
    db.create_experiment("waiting", exp_id="dash-queued")  # QUEUED, no runner anywhere
    p.goto(server.url + "/runs/dash-queued")
    assert "galileo runner" in p.inner_text("#queued-hint")
    p.wait_for_function("document.getElementById('updated').textContent.includes('runner')")


def test_live_run_updates_and_the_rate_control_changes_what_workers_send(
        page: Watched, server: Server, cluster: Galileo, db: ExpDB) -> None:
    g = cluster
    exp_id = g.experiment.start(name="live one")
    group = g.spawn("echo", 2, hosts=WORKER, request={"method": "GET", "path": "/"}, rps=20)
    try:
        until(lambda: db.get_experiment(exp_id) is not None, 20, "the recorder to store the run")
        p = _open(page, f"{server.url}/runs/{exp_id}")
        p.wait_for_function("Number(document.body.dataset.tick || 0) >= 3", timeout=20_000)
        p.wait_for_function(
            "(document.getElementById('fig-rate')?.dataset.points | 0) > 2", timeout=20_000)
        first = int(p.get_attribute("#fig-rate", "data-points") or 0)
        p.wait_for_function(f"(document.getElementById('fig-rate').dataset.points | 0) > {first}",
                            timeout=10_000)  # the chart grows while the run goes on
        # >= 3 full seconds at 20/s recorded before the change (a loaded machine may start the
        # group's sending seconds after the run's first chart points)
        until(lambda: len(db.traces(exp_id)) >= 80, 30, "4 s of traces at the first rate")
        row = p.locator(f'tr[data-gid="{group.gid}"]')
        row.locator("input.rate").fill("-5")
        row.locator("button.set-rate").click()
        p.wait_for_selector("#message.bad")
        assert "greater than or equal to 0" in p.inner_text("#message")
        page.console_errors.clear()  # the browser logs the (expected) 422 answer
        row.locator("input.rate").fill("80")
        row.locator("button.set-rate").click()
        p.wait_for_selector("#message.ok")
        changed_ns = time.time_ns()
        p.wait_for_function(
            "[...document.querySelectorAll('#services td.sent')].some(td => +td.textContent >= 70)",
            timeout=15_000)
        time.sleep(3.5)  # >= 2 full seconds at the new rate after the 1 s settling margin
        page.shot("live-run")
        if os.environ.get("GALILEO_UPDATE_README_SHOT") or not README_SHOT.exists():
            README_SHOT.parent.mkdir(parents=True, exist_ok=True)  # the README's screenshot
            shutil.copy(ARTIFACTS / "dashboard-live-run.png", README_SHOT)
        p.once("dialog", lambda d: d.accept())  # Stop asks first
        p.click("#stop")
        p.wait_for_selector("#finished-run", timeout=30_000)  # reloaded into the report
    finally:
        group.close()
        if g.experiment.current() == exp_id:
            g.experiment.stop()
    # the traces say the same: ~20/s before the change, ~80/s in full seconds after it
    def after_change() -> int:
        return sum(1 for r in db.traces(exp_id) if r["intended_ns"] >= changed_ns + 10**9)

    until(lambda: after_change() >= 130, 30, "the traces sent after the rate change")
    time.sleep(1.5)  # the last ones in flight are recorded too
    rows = db.traces(exp_id)
    before = [r for r in rows if r["intended_ns"] < changed_ns - 1_000_000_000]
    after = [r for r in rows if r["intended_ns"] >= changed_ns + 1_000_000_000]
    per_s = _rate(after)
    assert 15 <= _rate(before) <= 25 and 65 <= per_s <= 95, (_rate(before), per_s)


def _rate(rows: list[dict[str, Any]]) -> float:
    secs = sorted({r["intended_ns"] // 1_000_000_000 for r in rows})
    full = secs[1:-1]  # drop the partial first and last seconds
    return sum(1 for r in rows if r["intended_ns"] // 1_000_000_000 in full) / max(len(full), 1)


def test_designer_validates_saves_and_submits_a_scenario_that_runs(
        page: Watched, server: Server, cluster: Galileo, db: ExpDB,
        dash_settings: Settings, tmp_path: Path) -> None:
    from celery.contrib.testing.worker import start_worker

    from galileo.experiments.tasks import make_app

    p = _open(page, server.url + "/designer")
    p.fill("#sc-apps", "")
    p.fill("#sc-name", "designed-run")
    w = p.locator(".workload").first
    w.locator(".clients").fill("1")
    w.locator('[data-field="stages"]').fill("0,20")
    p.wait_for_function("document.body.dataset.planned === 'problems'")
    assert "stages[0].duration: Input should be greater than 0" in p.inner_text("#problems")
    w.locator('[data-field="stages"]').fill("2,-3")
    p.wait_for_function("document.getElementById('problems').textContent.includes('rps')")
    assert "stages[0].rps: Input should be greater than or equal to 0" in p.inner_text("#problems")
    assert p.is_disabled("#submit")
    w.locator('[data-field="stages"]').fill("1,10; 2,30,1")
    p.wait_for_function("document.getElementById('total').textContent.includes('requests')")
    assert p.inner_text("#total").startswith("60 requests planned over 3")  # 10 + 20 + 30
    page.shot("designer")
    with p.expect_download() as download:
        p.click("#save-yaml")
    saved = tmp_path / "designed.yaml"
    download.value.save_as(saved)
    scenario = parse_scenario(saved.read_text())  # the runner's own schema accepts it
    assert scenario.workloads[0].profile.type == "stages"
    assert yaml.safe_load(saved.read_text())["name"] == "designed-run"
    w.locator(".wname").fill("")
    p.click("#submit")
    p.wait_for_selector("#submitted")
    exp_id = p.inner_text("#submitted")
    app = make_app(dash_settings)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            until(lambda: (e := db.get_experiment(exp_id)) is not None
                  and e.status == ExperimentStatus.FINISHED, 60, "the designed run to finish")
    finally:
        app.close()
    assert db.count_traces(exp_id) >= 50


def test_report_file_opens_offline_without_console_errors(browser: Any, db: ExpDB,
                                                          recorded: tuple[str, str],
                                                          tmp_path: Path) -> None:
    out, _ = write_report(db, list(recorded), tmp_path / "report.html")
    context = browser.new_context(offline=True)
    try:
        watched = Watched(context.new_page(), ("file://",))
        watched.page.goto(out.as_uri())
        watched.page.wait_for_selector("#fig-compare-p99 .main-svg")
        n = watched.page.evaluate("document.querySelectorAll('.fig .main-svg').length")
        assert n >= 10  # every figure rendered by the inlined plotly.js
        assert "p99 is" in watched.page.inner_text("body")
        watched.shot("report")
        watched.check()
    finally:
        context.close()


def test_token_login(browser: Any, dash_settings: Settings, recorded: tuple[str, str]) -> None:
    protected = dash_settings.model_copy(update={"api_token": SecretStr("s3cret-token")})
    with Server(protected) as srv:
        context = browser.new_context()
        try:
            watched = Watched(context.new_page(), (srv.url,))
            p = watched.page
            p.goto(srv.url + "/")
            assert "/login" in p.url
            assert p.request.get(srv.url + "/ui/api/cluster").status == 401
            p.fill("#token", "wrong")
            p.click("#login")
            assert "wrong token" in p.inner_text("#login-error")
            watched.console_errors.clear()  # the 401 answer is logged by the browser
            assert p.locator("nav a").count() == 0  # no menu before logging in
            p.fill("#token", "s3cret-token")
            p.press("#token", "Enter")
            p.wait_for_selector("#experiments")
            assert p.locator(f'tr[data-exp="{recorded[0]}"]').count() == 1
            (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
            assert "s3cret" not in cookie["value"] and len(cookie["value"]) == 64
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert p.request.get(srv.url + "/ui/api/cluster").status == 200
            g = Galileo.from_settings(protected)  # the server forgets the session: logged out
            try:
                g.redis.delete(g.keys.dashboard_session(cookie["value"]))
            finally:
                g.close()
            assert p.request.get(srv.url + "/ui/api/cluster").status == 401
            p.goto(srv.url + "/")
            assert "/login" in p.url
            watched.console_errors.clear()
            watched.check()
        finally:
            context.close()


def test_api_stops_within_5_s_on_sigterm_with_a_live_stream_open(
        dash_settings: Settings, db: ExpDB) -> None:
    import os
    import signal
    import subprocess
    import sys

    import httpx

    from galileo.localenv import free_port

    db.create_experiment("streamed", exp_id="dash-streamed", status=ExperimentStatus.RUNNING)
    port = free_port()
    env = {**os.environ, "galileo_redis_url": str(dash_settings.redis_url),
           "galileo_namespace": dash_settings.namespace,
           "galileo_expdb_sqlite_path": str(dash_settings.expdb_sqlite_path),
           "galileo_data_dir": str(dash_settings.data_dir), "galileo_log_level": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "galileo", "api", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(base + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        until(up, 60, "galileo api")
        with httpx.Client(timeout=10) as client, client.stream(
                "GET", base + "/ui/api/runs/dash-streamed/live") as stream:
            lines = stream.iter_lines()
            until(lambda: next(lines).startswith("event: snapshot"), 20, "a snapshot")
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_run_whose_requests_all_fail_shows_it_live_and_is_failed_everywhere(
        page: Watched, server: Server, cluster: Galileo, db: ExpDB) -> None:
    """Every request fails before it is sent (no route): errors/s in red, sent/s 0, the
    badge FAILED live, on the run page and in the list; a zoom survives live updates; a pause
    is an event the report lists."""
    g = cluster
    exp_id = g.experiment.start(name="all fail")
    group = g.spawn("nowhere", 1, hosts=WORKER, request={"method": "GET", "path": "/"}, rps=30,
                    check_route=False)  # no route is the point
    try:
        until(lambda: db.get_experiment(exp_id) is not None, 20, "the recorder to store the run")
        p = _open(page, f"{server.url}/runs/{exp_id}")
        p.wait_for_function(
            "(document.getElementById('fig-rate')?.dataset.points | 0) > 6", timeout=20_000)
        p.evaluate("Plotly.relayout('fig-rate', {'xaxis.range': [0.25, 2.75]})")
        tick = int(p.evaluate("Number(document.body.dataset.tick)"))
        p.wait_for_function(f"Number(document.body.dataset.tick) >= {tick + 3}", timeout=20_000)
        assert p.evaluate("document.getElementById('fig-rate').layout.xaxis.range") == [0.25, 2.75]
        lines = {name: (ys, colour) for name, ys, colour in p.evaluate(
            "document.getElementById('fig-rate').data.filter(t => t.meta !== 'events')"
            ".map(t => [t.name, t.y, t.line.color])")}
        errors, colour = lines["nowhere errors/s"]
        assert max(errors) > 0 and colour == "#cf222e"
        assert max(lines["nowhere sent/s"][0]) == 0  # nothing left the worker
        p.wait_for_function("document.getElementById('status').dataset.status === 'FAILED'",
                            timeout=20_000)
        assert p.inner_text("#hl-errors") == "100.00 %"
        assert re.fullmatch(r"\d+ / 2000", p.inner_text("#hl-backlog"))  # the recorder's backlog
        row = p.locator(f'tr[data-gid="{group.gid}"]')
        assert row.locator("td").first.inner_text() == "nowhere"  # a name, not the group id
        assert group.gid in (row.locator("td").first.get_attribute("title") or "")
        row.locator("button.toggle").click()
        p.wait_for_selector("#message.ok")
        page.shot("live-failing")
        p.set_viewport_size({"width": 500, "height": 900})  # the live page on a narrow screen
        tick = int(p.evaluate("Number(document.body.dataset.tick)"))
        p.wait_for_function(f"Number(document.body.dataset.tick) >= {tick + 2}", timeout=20_000)
        assert p.evaluate("document.documentElement.scrollWidth") <= 500
        page.shot("live-failing-500")
        p.set_viewport_size({"width": 1280, "height": 900})
        dialogs: list[str] = []
        p.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        p.click("#stop")  # dismissed: the run goes on
        assert dialogs and "Stop this experiment?" in dialogs[0]
        time.sleep(0.5)
        assert db.get_experiment(exp_id).status == ExperimentStatus.RUNNING  # type: ignore[union-attr]
        p.once("dialog", lambda d: d.accept())
        p.click("#stop")
        p.wait_for_selector("#finished-run", timeout=30_000)
    finally:
        group.close()
        if g.experiment.current() == exp_id:
            g.experiment.stop()
    p.reload()
    assert p.get_attribute("#finished-run .badge", "data-status") == "FAILED"
    assert "requests failed" in p.inner_text("#finished-run .failed-reason")
    assert "nowhere: paused" in p.inner_text('[data-table="events"]')
    p.goto(server.url + "/")
    listed = p.locator(f'tr[data-exp="{exp_id}"]')
    assert listed.locator(".badge").get_attribute("data-status") == "FAILED"
    assert listed.locator(".error-rate .err").inner_text() == "100.00 %"


PAGES = ("/", "/runs/dash-a", "/compare?id=dash-a&id=dash-b", "/designer", "/cluster",
         "/no-such-page")
AXE_RULES = ["color-contrast", "label", "button-name", "select-name", "link-name",
             "aria-input-field-name", "document-title", "html-has-lang", "image-alt"]


def _axe() -> Path:
    """axe-core from npm (installed once into the user's cache at test time)."""
    target = Path.home() / ".cache" / "galileo-tests" / "axe"
    script = target / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed for the accessibility check (apt-get install npm)")
        import subprocess

        subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                        str(target), "axe-core@4.10"], check=True, timeout=300)
    return script


def test_pages_are_light_local_fit_500px_and_pass_axe(browser: Any, server: Server,
                                                      recorded: tuple[str, str]) -> None:
    axe = _axe()
    import httpx

    js = server.url + "/static/plotly-basic.min.js"
    first = httpx.get(js, headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip" and "max-age" in first.headers[
        "cache-control"]
    assert int(first.headers["content-length"]) < 450_000  # 1.2 MB compressed
    again = httpx.get(js, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and not again.content  # cached: nothing sent again
    icon = httpx.get(server.url + "/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    for width in (1400, 500):
        context = browser.new_context(viewport={"width": width, "height": 900})
        try:
            for path in PAGES:
                watched = Watched(context.new_page(), (server.url, "data:", "blob:"))
                p = watched.page
                received: list[tuple[str, int]] = []
                p.on("requestfinished", lambda r, got=received: got.append(
                    (r.url, r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"])))
                p.goto(server.url + path)
                p.wait_for_load_state("networkidle")
                if path == "/":
                    assert not any("plotly" in u for u, _ in received)  # no chart, no plotly
                    assert sum(n for _, n in received) <= 300_000, received
                if path == "/no-such-page":
                    watched.console_errors.clear()  # the 404 itself
                off = p.evaluate("""() => [...document.querySelectorAll('[href],[src],[action]')]
                    .map(e => e.href || e.src || e.action).filter(u => u
                    && !u.startsWith(location.origin) && !/^(data|blob):/.test(u))""")
                assert not off, f"{path} links off the machine: {off}"
                assert p.locator(".modebar-btn[data-title*='Chart Studio'],"
                                 ".modebar-btn[data-title*='cloud' i]").count() == 0
                scroll = p.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, f"{path} scrolls sideways at {width} px ({scroll} px)"
                watched.shot(f"{path.strip('/').split('?')[0].replace('/', '-') or 'list'}-{width}")
                if width == 500:  # axe once per page: its rules do not depend on the width
                    watched.check()
                    p.close()
                    continue
                p.add_script_tag(path=str(axe))
                found = p.evaluate("async (rules) => (await axe.run(document, {runOnly: "
                                   "{type: 'rule', values: rules}})).violations.map(v => "
                                   "v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))",
                                   AXE_RULES)
                assert not found, f"{path} at {width} px: {found}"
                watched.check()
                p.close()
        finally:
            context.close()


def test_live_replicas_chart_and_decisions_follow_a_running_autoscaler(
        page: Watched, server: Server, cluster: Galileo, db: ExpDB,
        dash_settings: Settings) -> None:
    """A real autoscaler (schedule policy: 1 replica, 3 from 4 s) scales a service of a real
    node agent and reconciler while the run page is open: the replicas chart, placed after
    latency, steps from 1 to 3 declared and then ready, live, and the decisions table shows the
    newest decision with its reason."""
    import threading

    from galileo.autoscaling import Autoscaler
    from galileo.services.reconciler import Reconciler

    g = cluster
    procs = ProcessGroup(dash_settings)
    rec = Reconciler(g.redis, g.keys, [])
    stop = threading.Event()
    thread = threading.Thread(target=rec.run, args=(stop,), daemon=True)
    exp_id = g.experiment.start(name="autoscaled")
    group = g.spawn("echo", 1, hosts=WORKER, request={"method": "GET", "path": "/"}, rps=10)
    scaler = None
    try:
        procs.start("node", ["node", "--name", "dash-node", "--address", "127.0.0.1",
                             "--ports", "23500-23599"])
        thread.start()
        until(lambda: g.redis.exists(g.keys.node("dash-node")), 30, "the node agent")
        g.services.run("dash-scaled", app="echo", replicas=1)
        g.services.wait("dash-scaled", 60)
        until(lambda: db.get_experiment(exp_id) is not None, 20, "the recorder to store the run")
        p = _open(page, f"{server.url}/runs/{exp_id}")
        p.wait_for_function("(document.getElementById('fig-rate')?.dataset.points | 0) > 1",
                            timeout=20_000)
        assert p.locator("#autoscale-box").is_hidden()  # no autoscaler yet: no table
        scaler = Autoscaler(g, "dash-scaled", "schedule", 1, 3, period_s=0.5,
                            options={"at": "0s=1,4s=3"}, exp_id=exp_id).start()
        line = ("(document.getElementById('fig-replicas')?.data || [])"
                ".find(t => t.name === 'dash-scaled {}')?.y || []")
        declared, ready = line.format("declared"), line.format("ready")
        p.wait_for_function(f"({declared}).length > 0", timeout=20_000)
        assert max(p.evaluate(declared)) == 1  # before the schedule's step
        order = p.evaluate("[...document.querySelectorAll('#live-figures .fig')]"
                           ".map(d => d.dataset.figure)")
        assert order[:3] == ["rate", "latency", "replicas"], order
        p.wait_for_function(f"Math.max(...{declared}) === 3", timeout=20_000)  # it updates
        first = p.locator("#autoscale tr[data-service='dash-scaled']").first
        assert "1 → 3" in first.inner_text()
        assert "schedule: 3 replica(s) from 4 s" in first.locator(".reason").inner_text()
        p.wait_for_function(f"Math.max(...{ready}) === 3", timeout=60_000)  # then ready
        page.shot("live-autoscaled")
    finally:
        if scaler is not None:
            scaler.stop()
        group.close()
        if g.services.get("dash-scaled") is not None:
            g.services.remove("dash-scaled")
            until(lambda: not g.services.instances("dash-scaled"), 30, "the instances to go")
        stop.set()
        thread.join(10)
        procs.stop_all()
        if g.experiment.current() == exp_id:
            g.experiment.stop()
