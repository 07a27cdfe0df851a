"""Runs `experiments.train.train_and_evaluate` in forked children, so that
the kill test pays TensorFlow's import once, not once per kill.

`python -m tests.experiments.kill_job FOLDER KILLS` imports everything,
then (no TensorFlow op has run: forking is safe) times one uninterrupted
run, and for each of KILLS instants spread over that time: starts a run,
SIGKILLs it at that instant, reruns the same command into the same folder
to the end and prints one JSON line per rerun: {"at": seconds, "history",
"test", "strays": files a kill left behind}. Runs use one thread each and
go two at a time, one per core.
"""

import json
import os
import signal
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from experiments import train  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

CONFIG = dict(
    model="mlp", epochs=3, batch_size=512, seed=5, deterministic=True,
    verbose=0,
)  # fmt: skip


def _child(folder):
    pid = os.fork()
    if pid == 0:  # the child: one run of the command, then exit
        try:
            train.train_and_evaluate(train.Config(**CONFIG), folder)
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def _wait(pid):
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _result(folder):
    with open(os.path.join(folder, "metrics.json")) as f:
        saved = json.load(f)
    strays = [
        name
        for root, _, files in os.walk(folder)
        for name in files
        if name.startswith(".")
    ]
    return {
        "history": saved["history"],
        "test": saved["test"],
        "strays": strays,
    }


def main(base, kills):
    t0 = time.perf_counter()
    whole = os.path.join(base, "whole")
    assert _wait(_child(whole)) == 0
    seconds = time.perf_counter() - t0
    print(json.dumps({"at": None, **_result(whole)}), flush=True)
    for pair in range(0, kills, 2):
        ks = range(pair, min(pair + 2, kills))
        ats = {k: seconds * (k + 0.5) / kills for k in ks}
        folders = {k: os.path.join(base, f"kill{k}") for k in ks}
        start = time.perf_counter()
        pids = {k: _child(folders[k]) for k in ks}
        for k in sorted(ks, key=ats.get):
            time.sleep(max(0.0, start + ats[k] - time.perf_counter()))
            os.kill(pids[k], signal.SIGKILL)
            _wait(pids[k])
        reruns = {k: _child(folders[k]) for k in ks}
        for k in ks:
            if _wait(reruns[k]) != 0:
                print(json.dumps({"at": ats[k], "failed": True}), flush=True)
                continue
            print(json.dumps({"at": ats[k], **_result(folders[k])}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
