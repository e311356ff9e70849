"""kill -9 soak: random kill points across every stage of a real run and of a sweep.

    kill_soak.py GENIUS SOURCE_DIR [--kills 20] [--sweep-kills 6] [--seed 1]

A run (tests/run/resume.toml: base eval, then explore, pairs, audit, train and
eval for two iterations) is run once without interruption. The same config is
then run again and again with SIGKILL at random points, each run resumed with
--resume until it finishes, and every finished run is compared with the
uninterrupted one (tests/run/compare_runs.py). A kill point is drawn as a stage
(uniform over the stages still to run) and a delay after that stage starts
(uniform over that stage's duration in the uninterrupted run), so short stages
such as pairs are hit too; the stage a kill landed in is read back from
state.json. Then a two-cell sweep is killed (the sweep process alone: its
cells must die with it) at random times, resumed with `genius sweep --resume`,
and its cells and sweep.csv are compared with an uninterrupted sweep's.
Exit 0 when every comparison holds and at least the asked number of kills
landed."""
import argparse
import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_TESTS = os.path.join(HERE, "..", "run")
TIMINGS = {"seconds", "tokens_per_second", "wall_seconds", "elapsed"}


def stage_order(iterations, audit):
    order = ["eval-0"]
    for it in range(1, iterations + 1):
        order += [f"explore-{it}", f"pairs-{it}"] + ([f"audit-{it}"] if audit else []) + [f"train-{it}", f"eval-{it}"]
    return order


def finished_stages(run_dir):
    try:
        with open(os.path.join(run_dir, "state.json")) as f:
            return set(json.load(f).get("stages", {}))
    except (OSError, ValueError):  # not written yet (state.json is replaced atomically)
        return set()


def running_stage(order, run_dir):
    done = finished_stages(run_dir)
    return next((s for s in order if s not in done), None)


STAGE_DONE = re.compile(r"info: (eval|explore|pairs|audit|train) (\d+):")


class Process:
    """A genius process whose stderr is read as it comes: when did each stage end?"""

    def __init__(self, cmd, log):
        self.started = time.time()
        self.popen = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      start_new_session=True)
        self.events = {}  # "run" (start-up done) or a stage key -> seconds since start
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, args=(log,), daemon=True)
        self.reader.start()

    def _read(self, log):
        for line in self.popen.stderr:
            log.write(line)
            now = time.time() - self.started
            m = STAGE_DONE.search(line)
            key = f"{m.group(1)}-{m.group(2)}" if m else ("run" if "info: run directory:" in line else None)
            if key:
                with self.lock:
                    self.events.setdefault(key, now)

    def wait_for(self, key):
        """Seconds since start when `key` happened, or None if the process ended first."""
        while True:
            with self.lock:
                if key in self.events:
                    return self.events[key]
            if self.popen.poll() is not None:
                self.reader.join()
                return self.events.get(key)
            time.sleep(0.002)

    def finish(self):
        code = self.popen.wait()
        self.reader.join()
        return code


def wait_group_gone(pgid, what):
    """After SIGKILL of a leader: every process of its group must be gone within 10 s."""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    os.killpg(pgid, signal.SIGKILL)
    sys.exit(f"a process of {what} outlived its parent's SIGKILL by 10 s (an orphaned child)")


def soak_run(genius, work, rng, kills_wanted, log):
    config = os.path.join(work, "run.toml")
    reference = os.path.join(work, "a")
    order = stage_order(2, True)
    whole = Process([genius, "run", config, "--out", reference], log)
    if whole.finish() != 0:
        sys.exit("the uninterrupted run failed; see the log")
    marks = ["run"] + order
    durations = {s: whole.events[s] - whole.events[prev] for prev, s in zip(marks, marks[1:])}
    landed, rounds = [], 0
    while len(landed) < kills_wanted:
        rounds += 1
        out = os.path.join(work, f"b{rounds}")
        aimed = {}  # stage -> kills aimed at it in this round (at most 2, so that a round ends)
        while True:
            args = [genius, "run", config, "--out", out]
            if os.path.exists(os.path.join(out, "config.resolved.toml")):
                args.append("--resume")
            remaining = [s for s in order if s not in finished_stages(out)]
            targets = [s for s in remaining if aimed.get(s, 0) < 2]
            target = rng.choice(targets) if targets and len(landed) < kills_wanted else None
            p = Process(args, log)
            if target is not None:
                aimed[target] = aimed.get(target, 0) + 1
                i = remaining.index(target)
                begun = p.wait_for(remaining[i - 1] if i > 0 else "run")
                if begun is not None:
                    time.sleep(max(begun + rng.uniform(0.0, durations[target]) - (time.time() - p.started), 0))
                if p.popen.poll() is None:
                    p.popen.kill()
                    p.finish()
                    wait_group_gone(p.popen.pid, "a run")
                    stage = running_stage(order, out) or "finish"  # summary and report
                    landed.append(stage)
                    print(f"kill {len(landed)}: aimed at {target}, landed in {stage}", flush=True)
                    continue
            if p.finish() != 0:
                sys.exit(f"a resumed run failed (exit {p.popen.returncode}); see the log")
            if running_stage(order, out) is None:
                break
        result = subprocess.run([sys.executable, os.path.join(RUN_TESTS, "compare_runs.py"), reference, out],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            sys.exit(f"run {rounds}, resumed after kills, differs from the uninterrupted run:\n{result.stdout}")
        shutil.rmtree(out)
    return landed, rounds


def csv_rows(path):
    with open(path) as f:
        return [{k: v for k, v in r.items() if not any(t in k for t in TIMINGS | {"tokens_saved"})}
                for r in csv.DictReader(f)]


def soak_sweep(genius, work, rng, kills_wanted, log):
    sweep = os.path.join(work, "sweep.toml")
    with open(sweep, "w") as f:
        f.write('[sweep]\nbase = "run.toml"\n\n[[sweep.axis]]\nkey = "loss.plugin"\nvalues = ["dpo", "simpo"]\n\n'
                '[set]\n"run.iterations" = 1\n')
    reference = os.path.join(work, "sweep-a")
    t0 = time.time()
    subprocess.run([genius, "sweep", sweep, "--out", reference], check=True, stdout=subprocess.DEVNULL, stderr=log)
    whole = time.time() - t0
    landed, rounds = 0, 0
    while landed < kills_wanted:
        rounds += 1
        out = os.path.join(work, f"sweep-b{rounds}")
        while True:
            args = [genius, "sweep", sweep, "--out", out] + (["--resume"] if os.path.exists(out) else [])
            p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
            if landed < kills_wanted:
                time.sleep(rng.uniform(0.2, whole / 3))
                if p.poll() is None:
                    p.kill()  # the sweep alone: its cells must follow it
                    p.wait()
                    wait_group_gone(p.pid, "a sweep")
                    landed += 1
                    continue
            if p.wait() != 0:
                sys.exit(f"a resumed sweep failed (exit {p.returncode}); see the log")
            break
        compare_sweeps(reference, out)
        shutil.rmtree(out)
    return landed, rounds


def compare_sweeps(reference, out):
    cells = sorted(d for d in os.listdir(reference) if d.startswith("loss.plugin="))
    for cell in cells:
        result = subprocess.run([sys.executable, os.path.join(RUN_TESTS, "compare_runs.py"),
                                 os.path.join(reference, cell), os.path.join(out, cell)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            sys.exit(f"sweep cell {cell}, resumed after kills, differs:\n{result.stdout}")
    if csv_rows(os.path.join(reference, "sweep.csv")) != csv_rows(os.path.join(out, "sweep.csv")):
        sys.exit("sweep.csv of the killed sweep differs from the uninterrupted sweep's")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("genius")
    ap.add_argument("source_dir")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--sweep-kills", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    genius = os.path.realpath(a.genius)
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="genius_kill_soak_")
    try:
        subprocess.run([genius, "init-model", "--arch", "llama", "--hidden", "32", "--layers", "2", "--heads", "4",
                        "--kv-heads", "2", "--seed", "1", "--out", os.path.join(work, "model")],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, os.path.join(RUN_TESTS, "make_tiny_task.py"), work, "24", "24"], check=True)
        with open(os.path.join(RUN_TESTS, "resume.toml")) as f:
            config = f.read()
        # Longer stages than resume_test.sh's (more queries and items, more epochs),
        # so that random kill points land inside every stage; info lines tell when each stage ends.
        longer = config.replace("samples = 2\nmax_new_tokens = 8", "samples = 8\nmax_new_tokens = 16").replace(
            "epochs = 2", "epochs = 4").replace('log_level = "warn"', 'log_level = "info"')
        assert longer.count("\n") == config.count("\n") and all(
            x in longer for x in ("epochs = 4", "samples = 8", '"info"')), "resume.toml changed: update kill_soak.py"
        with open(os.path.join(work, "run.toml"), "w") as f:
            f.write(longer)
        with open(os.path.join(work, "genius.log"), "w") as log:
            landed, rounds = soak_run(genius, work, rng, a.kills, log)
            sweep_kills, sweep_rounds = soak_sweep(genius, work, rng, a.sweep_kills, log)
        by_kind = {}
        for stage in landed:
            kind = stage.split("-")[0]
            by_kind[kind] = by_kind.get(kind, 0) + 1
        print(f"run: {len(landed)} kills over {rounds} resumed runs, each equal to the uninterrupted run; "
              f"kills by stage: {', '.join(f'{k} {v}' for k, v in sorted(by_kind.items()))}")
        print(f"sweep: {sweep_kills} kills over {sweep_rounds} resumed sweeps, every cell and sweep.csv equal to "
              "the uninterrupted sweep's")
    finally:
        if a.keep:
            print("work directory:", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
