"""``make stack-test``: one real experiment through the compose stack, then restart, stop, remove.

Runs with the host's python3 (standard library only) and podman + podman-compose (configured by
``deploy/engine.sh``):

1. builds or reuses the images (``deploy/build-images.sh``: the layer cache makes a rebuild of
   unchanged sources quick, and changed sources are never served from a stale layer);
   and checks each installs exactly the versions ``deploy/constraints.txt`` pins;
2. brings ``deploy/docker-compose.yml`` up under a project name of its own, with a fresh env file
   (random passwords and API token) and the local Redis and MariaDB stand-ins; nothing is
   published on the host: the API is reached on its address in the stack's own network;
3. polls every container's health check (``podman healthcheck run``: no systemd runs them here);
4. routes ``echo`` to the stack's echo service, submits ``examples/scenario-echo.yaml`` through
   the REST API with the token and waits for FINISHED; then checks: the worker registered, the
   traces in MariaDB equal the requests the worker sent, the dashboard answers, telemetry
   rows exist;
5. recreates the stack (``down`` keeping volumes, ``up``): the run and every trace are still there;
6. stops every container in compose's order, roles first, then Redis and MariaDB (each timed
   against its 10 s grace period, exit code 0);
7. removes every container, network, volume and env file it made (also on failure).

The last line is one JSON object (times in seconds, sizes in MB; ``ok`` true when every check
passed). Exit 0 when every check passed, 1 when one failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
GRACE_S = 10.0
HEALTH_TIMEOUT_S = 240.0
RUN_TIMEOUT_S = 180.0
IMAGES = {
    "GALILEO_IMAGE": "localhost/galileo:latest",
    "GALILEO_WORKER_IMAGE": "localhost/galileo-worker:latest",
    "GALILEO_REDIS_IMAGE": "localhost/galileo-redis:7",
    "GALILEO_MARIADB_IMAGE": "localhost/galileo-mariadb:10.11",
}


class StackFailed(Exception):
    """One sentence: which check failed and what was seen."""


def log(msg: str) -> None:
    print(f"[stack-test {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def engine_env() -> dict[str, str]:
    """The environment ``deploy/engine.sh`` sets up (podman's configuration files)."""
    out = subprocess.run(["bash", "-c", f". {DEPLOY}/engine.sh && env -0"], check=True,
                         capture_output=True, text=True).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


class Stack:
    def __init__(self, env: dict[str, str], project: str, workdir: Path) -> None:
        self.env = {**env, **IMAGES}  # the compose file's GALILEO_*_IMAGE: local images only
        self.project = project
        self.workdir = workdir
        self.token = secrets.token_hex(16)
        self.db_password = secrets.token_hex(12)

    # ------------------------------------------------------------------ commands
    def run(self, *argv: str, check: bool = True, timeout: float = 300) -> str:
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)
        if check and proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise StackFailed(f"{' '.join(argv[:4])} … exited {proc.returncode}: "
                              + " | ".join(tail))
        return proc.stdout

    def podman(self, *argv: str, check: bool = True, timeout: float = 300) -> str:
        return self.run(self.env["ENGINE"], *argv, check=check, timeout=timeout)

    def compose(self, *argv: str) -> str:
        """podman-compose; its output goes to build/images/<project>.log (it says little when a
        service fails to start: ``podman ps`` is checked afterwards)."""
        argv = ("podman-compose", "-p", self.project, "-f", str(COMPOSE_FILE), *argv)
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=600,
                              cwd=ROOT)
        with (self.workdir / f"{self.project}.log").open("a") as f:
            f.write(f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}\n")
        if proc.returncode != 0:
            raise StackFailed(f"podman-compose {argv[5]} exited {proc.returncode} "
                              f"(see {self.workdir / (self.project + '.log')})")
        return proc.stdout

    def containers(self, all_: bool = True) -> list[str]:
        out = self.podman("ps", *(["-a"] if all_ else []), "--format", "{{.Names}}",
                          "--filter", f"label=io.podman.compose.project={self.project}")
        return sorted(out.split())

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    # ------------------------------------------------------------------ life cycle
    def write_env_file(self) -> Path:
        path = self.workdir / f"{self.project}.env"
        path.write_text(
            f"galileo_expdb_mysql_password={self.db_password}\n"
            f"galileo_api_token={self.token}\n"
            f"MARIADB_PASSWORD={self.db_password}\n"
            f"MARIADB_ROOT_PASSWORD={secrets.token_hex(12)}\n")
        path.chmod(0o600)
        self.env["GALILEO_ENV_FILE"] = str(path)
        return path

    def up(self) -> None:
        self.compose("up", "-d")

    def wait_healthy(self) -> float:
        """Poll every container's health check until all pass; seconds taken."""
        start = time.monotonic()
        pending = set(self.containers())
        if len(pending) < 8:
            raise StackFailed(f"only {len(pending)} containers came up: {sorted(pending)}")
        while pending:
            for name in sorted(pending):
                try:
                    proc = subprocess.run([self.env["ENGINE"], "healthcheck", "run", name],
                                          env=self.env, capture_output=True, text=True,
                                          timeout=60)
                except subprocess.TimeoutExpired:  # a check stuck on a loaded host: poll again
                    continue
                if proc.returncode == 0:
                    pending.discard(name)
            if not pending:
                break
            if time.monotonic() - start > HEALTH_TIMEOUT_S:
                raise StackFailed(f"not healthy after {HEALTH_TIMEOUT_S:.0f} s: {sorted(pending)}"
                                  f"; logs: {self.logs_tail(sorted(pending)[0])}")
            time.sleep(1.0)
        return time.monotonic() - start

    def logs_tail(self, name: str) -> str:
        out = self.podman("logs", "--tail", "5", name, check=False)
        return " | ".join(out.strip().splitlines()[-5:])

    def stop_all(self) -> dict[str, Any]:
        """Stop every container (SIGTERM, SIGKILL after the grace period), each timed, in the
        compose order: Galileo's roles together, then the bus and the database they depend on.
        Every one must exit within the grace period with exit code 0."""
        names = self.containers(all_=False)
        backing = [n for n in names if n in (self.container("redis"), self.container("mariadb"))]
        times: dict[str, float] = {}
        for wave in ([n for n in names if n not in backing], backing):
            procs = {n: (time.monotonic(), subprocess.Popen(
                [self.env["ENGINE"], "stop", "--time", str(int(GRACE_S)), n], env=self.env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)) for n in wave}
            for name, (t0, proc) in procs.items():
                proc.wait(timeout=GRACE_S + 60)
                times[name] = round(time.monotonic() - t0, 2)
        codes = {n: self.podman("inspect", "--format", "{{.State.ExitCode}}", n).strip()
                 for n in names}
        return {"times": times, "codes": codes}

    def remove_everything(self) -> list[str]:
        """Remove what this project made; what is left over (should be nothing)."""
        subprocess.run(["podman-compose", "-p", self.project, "-f", str(COMPOSE_FILE), "down",
                        "-v", "-t", str(int(GRACE_S))], env=self.env, capture_output=True,
                       timeout=300, cwd=ROOT)
        for name in self.containers():
            self.podman("rm", "-f", "-t", "0", name, check=False)
        for kind in ("volume", "network"):
            out = self.podman(kind, "ls", "--format", "{{.Name}}", check=False)
            for name in out.split():
                if name.startswith(f"{self.project}_"):
                    self.podman(kind, "rm", "-f", name, check=False)
        (self.workdir / f"{self.project}.env").unlink(missing_ok=True)
        left = self.containers()
        for kind in ("volume", "network"):
            out = self.podman(kind, "ls", "--format", "{{.Name}}", check=False)
            left += [n for n in out.split() if n.startswith(f"{self.project}_")]
        return left

    # ------------------------------------------------------------------ the experiment
    def api_base(self) -> str:
        ip = self.podman("inspect", "--format",
                         "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                         self.container("api")).split()
        if not ip:
            raise StackFailed("the api container has no address in the stack's network")
        return f"http://{ip[0]}:5001"

    def http(self, method: str, path: str, body: Any = None, *, auth: bool = True,
             raw: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            payload = resp.read()
            return (resp.status, payload) if raw else json.loads(payload or b"null")

    def sql(self, query: str) -> str:
        return self.podman("exec", "-e", f"MYSQL_PWD={self.db_password}", self.container("mariadb"),
                           "mariadb", "-ugalileo", "galileo", "-N", "-B", "-e", query).strip()

    def experiment(self, exp_id: str) -> dict[str, Any]:
        self.base = self.api_base()
        deadline = time.monotonic() + 60
        workers: list[Any] = []
        while time.monotonic() < deadline and not workers:
            with contextlib.suppress(urllib.error.URLError, OSError):
                workers = self.http("GET", "/workers")
            if not workers:
                time.sleep(0.5)
        if not workers:
            raise StackFailed("no worker registered within 60 s (GET /workers)")
        try:
            self.http("GET", "/workers", auth=False)
            raise StackFailed("GET /workers without the token was answered (expected 401)")
        except urllib.error.HTTPError as e:
            if e.code != 401:
                raise StackFailed(f"GET /workers without the token: {e.code}, not 401") from e
        self.http("PUT", "/routing/echo", {"hosts": ["echo:8080"], "weights": [1]})
        scenario = (ROOT / "examples" / "scenario-echo.yaml").read_text()
        self.http("POST", "/experiments", {"scenario": scenario, "id": exp_id,
                                           "name": "stack-test", "creator": "stack-test"})
        deadline = time.monotonic() + RUN_TIMEOUT_S
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.http("GET", f"/experiments/{exp_id}/status")
            if status["status"] not in ("QUEUED", "RUNNING"):
                break
            time.sleep(1.0)
        if status.get("status") != "FINISHED":
            raise StackFailed(f"experiment {exp_id} ended {status.get('status')}: "
                              f"{status.get('message')}")
        sent = self.sent_by_workers()
        traces = int(self.sql(f"SELECT COUNT(*) FROM traces WHERE exp_id = '{exp_id}'"))
        api_total = self.http("GET", f"/experiments/{exp_id}/traces?limit=1&offset=0")["total"]
        telemetry = int(self.sql(f"SELECT COUNT(*) FROM telemetry WHERE exp_id = '{exp_id}'"))
        code, page = self.http("GET", "/", raw=True)
        return {"workers": len(workers), "status": status["status"],
                "message": status.get("message"), "sent": sent, "traces": traces,
                "api_traces": api_total, "telemetry_rows": telemetry,
                "dashboard_status": code, "dashboard_bytes": len(page)}

    def sent_by_workers(self) -> int:
        """Requests the workers say they sent: the sum of ``sent`` over every per-second
        GroupStats entry they published on the bus (kept a while after a group closes),
        counted independently of the recorder and the database."""
        script = (
            "import redis\n"
            "from galileo.protocol import StatsField, decode_group_stats\n"
            "from galileo.settings import load_settings\n"
            "r = redis.Redis.from_url(load_settings().redis_connection_url())\n"
            "print(sum(decode_group_stats(e[StatsField]).sent\n"
            "          for k in r.scan_iter(match='*:group:*:stats')\n"
            "          for _, e in r.xrange(k)))\n")
        out = self.podman("exec", self.container("api"), "python", "-c", script)
        return int(out.strip().splitlines()[-1])


def image_sizes(env: dict[str, str]) -> dict[str, float]:
    out = {}
    for name in ("localhost/galileo-base:bookworm", *IMAGES.values()):
        proc = subprocess.run([env["ENGINE"], "image", "inspect", "--format", "{{.Size}}", name],
                              env=env, capture_output=True, text=True)
        if proc.returncode == 0:
            out[name] = round(int(proc.stdout.strip()) / 1e6, 1)
    return out


def pin_mismatches(env: dict[str, str]) -> list[str]:
    """What an image installed other than deploy/constraints.txt pins (two builds install the
    same set): every distribution at its pinned version, and the full image all of them."""
    pins = dict(line.split("==") for line in (DEPLOY / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    # a distribution without a Name (a half-removed .dist-info) is reported, not a crash
    script = ("import importlib.metadata as m, re\n"
              "for d in m.distributions():\n"
              "    n = d.metadata['Name'] or ('?' + str(getattr(d, '_path', 'unnamed')))\n"
              "    print(re.sub(r'[-_.]+', '-', n).lower().replace(' ', '_'), d.version)\n")
    bad = []
    for image in (IMAGES["GALILEO_IMAGE"], IMAGES["GALILEO_WORKER_IMAGE"]):
        proc = None
        for _ in range(2):  # once more: a loaded machine's podman sometimes fails a first run
            proc = subprocess.run([env["ENGINE"], "run", "--rm", "--entrypoint", "python", image,
                                   "-c", script], env=env, capture_output=True, text=True,
                                  timeout=300)
            if proc.returncode == 0:
                break
        assert proc is not None
        if proc.returncode != 0:
            why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            bad.append(f"{image}: listing its distributions failed "
                       f"(exit {proc.returncode}): {why}")
            continue
        installed = dict(line.split()[:2] for line in proc.stdout.splitlines()
                         if len(line.split()) >= 2)
        installed.pop("galileo", None)
        bad += [f"{image}: {n} {v} (pinned {pins.get(n)})" for n, v in installed.items()
                if pins.get(n) != v]
        if image == IMAGES["GALILEO_IMAGE"]:
            bad += [f"{image}: {n} missing" for n in set(pins) - set(installed)]
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-build", action="store_true",
                        help="use the images as they are (fail when one is missing)")
    parser.add_argument("--bare", action="store_true",
                        help="from a bare machine: an empty image store of its own (removed after)")
    args = parser.parse_args(argv)
    if shutil.which("podman") is None or shutil.which("podman-compose") is None:
        print("stack-test: podman and podman-compose are needed (apt-get install podman "
              "podman-compose)", file=sys.stderr)
        return 2
    bare_root = None
    if args.bare:
        # a bare machine: an empty image store of its own (no image, base or cached layer), so
        # images other people's containers use are not touched; removed at the end
        bare_root = ROOT / "build" / "images" / f"bare-{os.getpid()}"
        os.environ["GALILEO_PODMAN_ROOT"] = str(bare_root)
    env = {**os.environ, **engine_env()}
    workdir = Path(env["GALILEO_BUILD_DIR"])
    t0 = time.monotonic()
    summary: dict[str, Any] = {"bench": "stack-test", "bare": args.bare, "ok": False}
    if not args.no_build:
        log("building or reusing the images (deploy/build-images.sh)")
        proc = subprocess.run(["bash", str(DEPLOY / "build-images.sh")], env=env, cwd=ROOT)
        if proc.returncode != 0:
            return proc.returncode
    summary["images_s"] = round(time.monotonic() - t0, 1)
    summary["sizes_mb"] = image_sizes(env)
    summary["pin_mismatches"] = pin_mismatches(env)
    if summary["pin_mismatches"]:
        log(f"installed versions differ from deploy/constraints.txt: {summary['pin_mismatches']}")
        print(json.dumps(summary, sort_keys=True))
        return 1
    stack = Stack(env, f"galileo-st{os.getpid()}", workdir)
    stack.write_env_file()
    try:
        t = time.monotonic()
        log(f"compose up (project {stack.project})")
        stack.up()
        summary["up_s"] = round(time.monotonic() - t, 1)
        summary["healthy_s"] = round(stack.wait_healthy(), 1)
        log(f"{len(stack.containers())} containers healthy after {summary['healthy_s']} s")
        t = time.monotonic()
        run = stack.experiment("stack-1")
        summary["experiment_s"] = round(time.monotonic() - t, 1)
        summary["experiment"] = run
        log(f"experiment: {run}")
        checks = {
            "workers registered": run["workers"] >= 1,
            "traces equal the requests sent": run["traces"] == run["sent"] > 0,
            "API total equals MariaDB": run["api_traces"] == run["traces"],
            "telemetry rows exist": run["telemetry_rows"] > 0,
            "dashboard answers": run["dashboard_status"] == 200 and run["dashboard_bytes"] > 0,
        }
        failed = [k for k, v in checks.items() if not v]
        if failed:
            raise StackFailed(f"checks failed: {', '.join(failed)} ({run})")
        log("recreating the stack (down without volumes, up)")
        t = time.monotonic()
        stack.compose("down", "-t", str(int(GRACE_S)))
        stack.up()
        stack.wait_healthy()
        summary["restart_s"] = round(time.monotonic() - t, 1)
        stack.base = stack.api_base()
        after = int(stack.sql("SELECT COUNT(*) FROM traces WHERE exp_id = 'stack-1'"))
        status = stack.http("GET", "/experiments/stack-1/status")["status"]
        summary["traces_lost_across_restart"] = run["traces"] - after
        if after != run["traces"] or status != "FINISHED":
            raise StackFailed(f"after the restart: {after} of {run['traces']} traces, "
                              f"status {status}")
        log("stopping every container")
        stopped = stack.stop_all()
        summary["stop_s"] = stopped["times"]
        summary["stop_max_s"] = max(stopped["times"].values())
        bad = {n: c for n, c in stopped["codes"].items() if c != "0"}
        slow = {n: s for n, s in stopped["times"].items() if s > GRACE_S}
        if bad or slow:
            raise StackFailed(f"stop: exit codes {bad or 'all 0'}, over {GRACE_S:.0f} s: "
                              f"{slow or 'none'}")
        summary["ok"] = True
    except (StackFailed, subprocess.TimeoutExpired, urllib.error.URLError, OSError) as e:
        summary["error"] = str(e)
        log(f"FAILED: {e}")
    finally:
        keep = os.environ.get("GALILEO_STACK_KEEP") == "1" and not summary["ok"]
        if not keep:
            left = stack.remove_everything()
            summary["left_over"] = left
            if left:
                summary["ok"] = False
                log(f"left over: {left}")
        if summary["ok"]:  # podman-compose's output is kept only for a failed run
            (workdir / f"{stack.project}.log").unlink(missing_ok=True)
    summary["total_s"] = round(time.monotonic() - t0, 1)
    if bare_root is not None:
        subprocess.run([env["ENGINE"], "rmi", "-a", "-f"], env=env, capture_output=True)
        shutil.rmtree(bare_root, ignore_errors=True)
    print(json.dumps(summary, sort_keys=True))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
