"""Scheduling: makespan with 1, 2 and 3 task workers on a storyboard of independent chains.

    python benchmarks/schedule.py [--chains 3] [--shots 2] [--workers 1 2 3]

Starts a local Prefect server and N `storyreel worker` processes (tiny model), renders the
storyboard with `--workers`, and prints the makespan (the flow's wall time), its ratio to the
critical-path bound (the longest chain's render time, measured from the takes) — target
≤ 1.1× when every worker has its own device — and model loads per worker (target 1).
On a machine with fewer cores than workers, the workers share the CPU and the ratio grows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def storyboard(chains: int, shots: int) -> str:
    lines = ["title: Chains", "settings: {model: tiny, width: 64, height: 64, fps: 16, steps: 8, seed: 1, max_takes: 1,",
             "           thresholds: {prompt: null, color_drift: null, boundary: null, identity: null, temporal: null}}", "scenes:"]
    for c in range(chains):
        lines += [f"  - id: c{c}", "    shots:"]
        lines += [f"      - {{id: c{c}s{s}, prompt: a red circle moves right, duration: 3}}" for s in range(shots)]
    return "\n".join(lines) + "\n"


def wait(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.5)


def workers_up(api: str, task_key: str) -> int:
    body = json.dumps({"task_worker_filter": {"task_keys": [task_key]}}).encode()
    try:
        request = urllib.request.Request(f"{api}/task_workers/filter", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=3) as response:
            return len(json.loads(response.read()))
    except OSError:
        return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chains", type=int, default=3)
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    from flows.render_flow import render_shot_task
    from production.store import transaction
    from generation.tiny import make_tiny
    from storage.db import open_database
    from storage.repo import get_project, live_shots

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_LOGGING_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1", "PREFECT_API_URL": api}
        server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--port", str(port)], env={k: v for k, v in env.items() if k != "PREFECT_API_URL"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        make_tiny(tmp_path / "tiny", "wan")
        try:
            wait(lambda: workers_up(api, render_shot_task.task_key) == 0, 120)
            print(f"# {args.chains} chains x {args.shots} shots (64x64, 49 frames, 8 steps), tiny model, {os.cpu_count()} CPU cores")
            for n in args.workers:
                home = tmp_path / f"home{n}"
                shutil.copytree(tmp_path / "tiny", home / "models" / "tiny-wan-i2v")
                (home / "film").mkdir()
                (home / "film" / "storyboard.yaml").write_text(storyboard(args.chains, args.shots))
                run_env = {**env, "STORYREEL_DATABASE_URL": f"sqlite:///{home / 'storyreel.db'}"}
                threads = str(max(1, (os.cpu_count() or 1) // n))
                workers = [subprocess.Popen([sys.executable, "-m", "flows.cli", "worker", "--home", str(home), "--model", "tiny", "--threads", threads], cwd=ROOT, env=run_env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True) for _ in range(n)]
                try:
                    wait(lambda: workers_up(api, render_shot_task.task_key) == n, 120)
                    out = subprocess.run([sys.executable, "-m", "flows.cli", "render", str(home / "film" / "storyboard.yaml"), "--home", str(home),
                                          "--project", "film", "--workers", "--no-review", "--json"], cwd=ROOT, env=run_env, capture_output=True, text=True, check=True)
                    makespan = json.loads(out.stdout)["seconds"]
                finally:
                    for w in workers:
                        os.killpg(w.pid, signal.SIGTERM)
                        w.wait(60)
                with transaction(open_database(run_env["STORYREEL_DATABASE_URL"])) as s:
                    shots = live_shots(s, get_project(s, "film"))
                    chains: Counter[int] = Counter()
                    loads: Counter[str] = Counter()
                    for shot in shots:
                        for t in shot.takes:
                            chains[shot.chain] += sum(v for k, v in t.timings.items() if k != "load")
                            loads[t.params["worker"]] += t.timings.get("load", 0) > 0
                critical = max(chains.values())
                bound = max(critical, sum(chains.values()) / n)  # no schedule beats the longest chain or the work ÷ workers
                print(f"workers {n} ({threads} threads each): makespan {makespan:6.2f} s  critical path {critical:5.2f} s  "
                      f"ratio {makespan / critical:5.2f}x  (vs max(critical, work/n) {makespan / bound:5.2f}x)  "
                      f"model loads per worker {sorted(loads.values())}")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(60)


if __name__ == "__main__":
    main()
