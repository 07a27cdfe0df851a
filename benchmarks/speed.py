r"""Speed: the loop beside `model.fit` and the cheat sheet's PyTorch loop.

    python -m benchmarks.speed --tables=peers --repeats=3   # the targets
    python -m benchmarks.speed --tables=xla,spe,pipeline,batch,size
    python -m benchmarks.speed --tables=peers --workloads=mlp,cnn

Every figure comes from a fresh process of its own (`--measure=JSON`), one
after the other: in one shared process a trainer's speed depended on its
place in the run. Each process trains one warm-up epoch (tracing, XLA and
oneDNN set-up), then `epochs` timed ones; the figure is examples per
second over the timed epochs. With `--repeats=N` each table's jobs run N
rounds, one job after the other in each, and each job keeps its fastest
round (the machine's load changes by tens of percent over minutes, and it
only ever slows a run down). Same data (MNIST images from
../shared/data/mnist, or random images of that shape when absent), model,
batch size (128) and Adam (Keras' defaults) for every trainer.

Tables:
  peers     per workload (mlp, cnn, capsnet, vae): loops.fit with its
            defaults, model.fit with Keras' defaults and with its best
            settings (the faster of XLA on or off, 32 steps per call),
            PyTorch (when installed), ratios, and the share of this
            machine's float32 matmul peak (measured in the same run) that
            each trainer reaches (training FLOPs taken as 3x the forward
            pass's, counted by the TensorFlow profiler).
  xla       the loop with XLA on and off per workload: the evidence for
            jit_compile="auto".
  spe       the loop with 1 to 128 steps per call (mlp): the evidence for
            steps_per_execution="auto".
  pipeline  the loop fed by its default in-memory input, by tf.data (the
            same batches, one `get_next` per step), by a
            per-example tf.data pipeline (cache, shuffle, batch), and by
            prebatched tensors (no input work).
  batch     examples/s as the batch grows from 32 to 1024.
  size      seconds per epoch as the data grows.

Results go to benchmarks/results/speed-<date>.json (and are printed).
Absolute numbers depend on the machine and its load; read the ratios.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import datetime  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from absl import app, flags  # noqa: E402

from experiments import cli  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"
RESULTS = ROOT / "benchmarks" / "results"
WORKLOADS = ("mlp", "cnn", "capsnet", "vae")
TABLES = ("peers", "xla", "spe", "pipeline", "batch", "size")
# Examples and timed epochs per workload: a few seconds of timing each.
SIZES = {"mlp": (8000, 4), "cnn": (8000, 2), "capsnet": (1024, 2)}
SIZES["vae"] = (8000, 4)

flags.DEFINE_list("tables", list(TABLES), f"Tables to run: {TABLES}.")
flags.DEFINE_list("workloads", list(WORKLOADS), "Workloads of `peers`.")
flags.DEFINE_integer(
    "repeats", 1, "Rounds over each table's jobs; the best round is kept."
)
flags.DEFINE_string("measure", None, "Internal: one measurement (JSON).")
flags.DEFINE_string("out", str(RESULTS), "Directory of the JSON results.")
FLAGS = flags.FLAGS


def measure(spec):
    """Runs `spec` in a fresh process; returns its result dict."""
    args = [sys.executable, "-m", "benchmarks.speed", "--measure"]
    done = subprocess.run(
        [*args, json.dumps(spec)], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        return {**spec, "error": " | ".join(tail)}
    return {**spec, **json.loads(done.stdout.strip().splitlines()[-1])}


def job(workload, trainer, **kw):
    examples, epochs = SIZES[workload]
    return dict(
        workload=workload,
        trainer=trainer,
        batch_size=kw.pop("batch_size", 128),
        examples=kw.pop("examples", examples),
        epochs=kw.pop("epochs", epochs),
        **kw,
    )


def peers_jobs(workloads):
    jobs = []
    for w in workloads:
        jobs += [
            job(w, "loop"),
            job(w, "fit"),
            job(w, "fit", steps_per_execution=32, jit_compile=True),
            job(w, "fit", steps_per_execution=32, jit_compile=False),
            job(w, "torch"),
        ]
    return jobs


def table_jobs(table, workloads):
    if table == "peers":
        return peers_jobs(workloads)
    if table == "xla":
        return [
            job(w, "loop", jit_compile=j) for w in WORKLOADS for j in (1, 0)
        ]
    if table == "spe":
        return [
            job("mlp", "loop", steps_per_execution=s)
            for s in (1, 4, 16, 32, 128)
        ]
    if table == "pipeline":
        inputs = (
            "memory",
            "tf.data",
            "per-example tf.data",
            "prebatched",
        )
        # 62 full batches: every input trains on the same examples (the
        # prebatched one has no partial batch); epochs for ~1 s of timing
        # at least (an MLP epoch takes ~35 ms).
        return [
            job(w, "loop", input=i, examples=62 * 128, epochs=e)
            for w, e in (("mlp", 30), ("cnn", 3))
            for i in inputs
        ]
    if table == "batch":
        sizes = (32, 64, 128, 256, 512, 1024)
        jobs = [
            job("mlp", t, batch_size=b)
            for t in ("loop", "fit", "torch")
            for b in sizes
        ]
        return jobs + [job("cnn", "loop", batch_size=b) for b in sizes]
    if table == "size":
        return [
            job("mlp", "loop", examples=n, epochs=3)
            for n in (1000, 2000, 4000, 8000, 16000, 32000)
        ]
    raise ValueError(f"--tables has {table!r}; expected one of {TABLES}")


def best_of(tries):
    """The fastest of a job's rounds, with every round's rate."""
    ok = [t for t in tries if "error" not in t]
    if not ok:
        return tries[0]
    best = max(ok, key=lambda t: t["samples_per_second"])
    return {**best, "rounds": [t["samples_per_second"] for t in ok]}


def matmul_peak():
    """float32 matmul GFLOP/s of this machine, best of a few runs."""
    return measure({"trainer": "matmul"})["gflops"]


def label(r):
    name = r["trainer"]
    extra = [
        f"{k}={r[k]}"
        for k in ("input", "steps_per_execution", "jit_compile")
        if k in r
    ]
    if name == "fit" and not extra:
        extra = ["Keras defaults"]
    if name == "loop" and not extra:
        extra = ["defaults"]
    return f"{name} ({', '.join(extra)})"


def report(table, results, peak):
    print(f"\n== {table} ==")
    for r in results:
        where = (
            f"{r['workload']:<8} b={r['batch_size']:<5} n={r['examples']:<6}"
        )
        if "error" in r:
            print(f"  {where} {label(r):<52} failed: {r['error'][:200]}")
            continue
        rate = r["samples_per_second"]
        line = f"  {where} {label(r):<52} {rate:10.0f} /s"
        if table == "size":
            line += f"  {r['epoch_seconds']:.3f} s/epoch"
        if peak and r.get("train_flops"):
            line += f"  {rate * r['train_flops'] / (peak * 1e9):6.1%} of peak"
        print(line)
    if table == "peers":
        _ratios(results)
    if table == "pipeline":
        _pipeline_costs(results)


def _pipeline_costs(results):
    """Each input's cost against prebatched tensors: the median over rounds
    of 1 - rate / prebatched rate (the rounds run one after the other, so
    each round's ratio sees one state of this shared machine)."""
    for w in WORKLOADS:
        rows = {
            r.get("input"): r.get("rounds") or [r["samples_per_second"]]
            for r in results
            if r["workload"] == w and "error" not in r
        }
        if "prebatched" not in rows:
            continue
        base = rows.pop("prebatched")
        costs = []
        for k, rates in rows.items():
            if len(rates) == len(base):
                ratios = [1 - v / b for v, b in zip(rates, base)]
                costs.append(f"{k} {statistics.median(ratios):+.1%}")
        print(
            f"  {w}: input cost against prebatched tensors (median of "
            f"{len(base)} rounds): " + ", ".join(costs)
        )


def _ratios(results):
    for w in WORKLOADS:
        rows = [r for r in results if r["workload"] == w and "error" not in r]
        loop = [r for r in rows if r["trainer"] == "loop"]
        if not loop:
            continue
        rate = loop[0]["samples_per_second"]
        fits = [r for r in rows if r["trainer"] == "fit"]
        plain = [r for r in fits if "steps_per_execution" not in r]
        best = max(fits, key=lambda r: r["samples_per_second"], default=None)
        torch = [r for r in rows if r["trainer"] == "torch"]
        parts = []
        if plain:
            parts.append(
                f"{rate / plain[0]['samples_per_second']:.2f}x fit defaults"
            )
        if best:
            parts.append(f"{rate / best['samples_per_second']:.2f}x fit best")
        if torch:
            parts.append(f"{rate / torch[0]['samples_per_second']:.2f}x torch")
        us = 1e6 / rate
        print(
            f"  {w}: loop defaults = " + ", ".join(parts) + f"; {us:.0f} us "
            "per training example"
        )


def main(argv):
    del argv
    if FLAGS.measure is not None:
        from benchmarks import measure as measure_lib

        print(json.dumps(measure_lib.run(json.loads(FLAGS.measure), MNIST)))
        return
    unknown = set(FLAGS.workloads) - set(WORKLOADS)
    if unknown:
        raise app.UsageError(
            f"--workloads has {sorted(unknown)}; expected some of {WORKLOADS}"
        )
    peak = matmul_peak()
    print(f"float32 matmul peak: {peak:.1f} GFLOP/s")
    out = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "data": "MNIST"
        if (MNIST / "t10k-images-idx3-ubyte.gz").exists()
        else "random",
        "matmul_peak_gflops": peak,
        "command": " ".join(["python -m benchmarks.speed", *sys.argv[1:]]),
        "tables": {},
    }
    torch = importlib.util.find_spec("torch") is not None
    if not torch:
        print(
            "torch is not installed: PyTorch rows skipped (pip install "
            "'.[bench]' adds it)"
        )
    flops = {}
    for table in FLAGS.tables:
        jobs = [
            j
            for j in table_jobs(table, FLAGS.workloads)
            if torch or j["trainer"] != "torch"
        ]
        for w in {j["workload"] for j in jobs} - set(flops):
            counted = measure({"trainer": "flops", "workload": w})
            flops[w] = {"train_flops": counted.get("train_flops")}
        # Rounds: every job once per round, so a slow spell of the machine
        # touches every trainer alike; each job keeps its best round.
        rounds = [[measure(j) for j in jobs] for _ in range(FLAGS.repeats)]
        results = [
            {**best_of(tries), **flops[j["workload"]]}
            for j, tries in zip(jobs, zip(*rounds))
        ]
        out["tables"][table] = results
        report(table, results, peak)
    path = pathlib.Path(FLAGS.out)
    path.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    target = path / f"speed-{stamp}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(target)
    print(f"\nwrote {target}")


if __name__ == "__main__":
    cli.run(main)
