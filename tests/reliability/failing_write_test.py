"""A write that fails mid-run (a full disk, a file-size quota) is a clear error and loses nothing finished.

    failing_write_test.py GENIUS

The kernel makes the writes fail: the run gets a file-size limit (RLIMIT_FSIZE,
with SIGXFSZ ignored), so a write past the limit fails with EFBIG as a write
to a full disk fails with ENOSPC, wherever in the program or its libraries
the write happens.
  1. A run is killed after its first training checkpoint, then resumed under a
     limit smaller than a checkpoint's weights file, then under one smaller than
     its optimizer file: each time the resumed run must exit 1
     with one clear line naming the checkpoint and the cause (no library text, no
     stack frames), leave the previous checkpoint byte for byte as it was and no
     temporary directory behind.
  2. A fresh run under a limit smaller than the exploration's records: exit 1 with
     the records file named.
Both runs, resumed without the limit, then equal an uninterrupted run
(tests/run/compare_runs.py)."""
import glob
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_TESTS = os.path.join(HERE, "..", "run")
LIBRARY_TEXT = ("PytorchStreamWriter", "frame #", "c10::", "std::", "basic_ios", "what():", "terminate called")


def limited(nbytes):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failing write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return apply


def run(genius, config, out, resume, preexec=None):
    args = [genius, "run", config, "--out", out] + (["--resume"] if resume else [])
    return subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)


def digest(directory):
    files = sorted(p for p in glob.glob(os.path.join(directory, "**"), recursive=True) if os.path.isfile(p))
    return {os.path.relpath(p, directory): hashlib.sha256(open(p, "rb").read()).hexdigest() for p in files}


def check_refusal(result, must_name, case):
    err = result.stderr
    problems = []
    if result.returncode != 1:
        problems.append(f"exit {result.returncode}, expected 1 (a run that failed while working)")
    if must_name not in err:
        problems.append(f"the message does not name {must_name!r}")
    if "File too large" not in err:
        problems.append("the message does not give the cause (File too large)")
    problems += [f"library text {t!r} in the message" for t in LIBRARY_TEXT if t in err]
    if problems:
        sys.exit(f"{case}: " + "; ".join(problems) + f"\nstderr:\n{err[-3000:]}")


def main():
    genius = os.path.realpath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="genius_failing_write_")
    try:
        subprocess.run([genius, "init-model", "--arch", "llama", "--hidden", "32", "--layers", "2", "--heads", "4",
                        "--kv-heads", "2", "--seed", "1", "--out", os.path.join(work, "model")],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, os.path.join(RUN_TESTS, "make_tiny_task.py"), work], check=True)
        config = os.path.join(work, "run.toml")
        shutil.copy(os.path.join(RUN_TESTS, "resume.toml"), config)
        reference = os.path.join(work, "a")
        if run(genius, config, reference, False).returncode != 0:
            sys.exit("the uninterrupted run failed")
        optimizer = glob.glob(os.path.join(reference, "iter-1/train/checkpoint-*/optimizer.pt"))[0]
        checkpoint_bytes = os.path.getsize(optimizer)
        weights_bytes = os.path.getsize(os.path.join(os.path.dirname(optimizer), "model", "model.safetensors"))

        # 1. A checkpoint write fails: the previous checkpoint stays.
        b = os.path.join(work, "b")
        p = subprocess.Popen([genius, "run", config, "--out", b], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while p.poll() is None and not glob.glob(os.path.join(b, "iter-1/train/checkpoint-*/trainer_state.json")):
            time.sleep(0.01)
        p.kill()
        p.wait()
        before = glob.glob(os.path.join(b, "iter-1/train/checkpoint-*"))
        if len(before) != 1:
            sys.exit(f"expected one checkpoint before the failing write, found {before}")
        kept = digest(before[0])
        # The weights (model.safetensors) fail, then the optimizer state (optimizer.pt).
        for name, limit in (("model.safetensors", weights_bytes // 2), ("optimizer.pt", checkpoint_bytes // 2)):
            result = run(genius, config, b, True, limited(limit))
            check_refusal(result, "checkpoint", f"a failing checkpoint write ({name})")
            check_refusal(result, name, f"a failing checkpoint write ({name})")
            if digest(before[0]) != kept:
                sys.exit(f"the previous checkpoint {before[0]} changed after the failing write of {name}")
            leftovers = [d for d in os.listdir(os.path.join(b, "iter-1/train")) if d.startswith(".")]
            if leftovers:
                sys.exit(f"the failing write of {name} left {leftovers} behind")
            print(f"checkpoint write ({name}) failed as expected:", result.stderr.strip().splitlines()[-1])

        # 2. An exploration write fails: the records file is named.
        c = os.path.join(work, "c")
        records = os.path.getsize(os.path.join(reference, "iter-1/records.jsonl"))
        result = run(genius, config, c, False, limited(records // 2))
        check_refusal(result, "records.jsonl", "a failing exploration write")
        print("records write failed as expected:", result.stderr.strip().splitlines()[-1])

        for out in (b, c):
            result = run(genius, config, out, True)
            if result.returncode != 0:
                sys.exit(f"resuming {out} without the limit failed:\n{result.stderr[-3000:]}")
            cmp = subprocess.run([sys.executable, os.path.join(RUN_TESTS, "compare_runs.py"), reference, out],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if cmp.returncode != 0:
                sys.exit(f"{out}, resumed after the failing write, differs from the uninterrupted run:\n{cmp.stdout}")
        print("both runs, resumed, equal the uninterrupted run")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
