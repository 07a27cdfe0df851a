"""The run folder of a command: where it is, and what run it holds.

`run.json` records what defines a run (model and its options, optimizer,
learning-rate schedule, data set and split, global batch size, seed,
toolkit version). A rerun into the same folder compares its own record
with it: the same run resumes (a larger --epochs continues it); another
run is refused with one line that lists each difference, unless
--restart moves the old folder aside first.
"""

import dataclasses
import datetime
import json
import os
import pathlib

from absl import logging

from loops.checkpointing import read_json, write_json_atomic

RECORD = "run.json"


def new_run_dir(kind: str, dataset: str) -> pathlib.Path:
    """runs/<kind>-<dataset>-<timestamp>, relative to the working folder."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    dataset = dataset.replace("/", "_").replace(":", "-")
    return pathlib.Path("runs") / f"{kind}-{dataset}-{stamp}"


def usable_run_dir(model_dir, kind, dataset) -> pathlib.Path:
    """The folder for --model_dir (~ and $VARS expanded; "" for a new one
    under runs/), created and checked writable before anything is built.
    """
    if not model_dir:
        path = new_run_dir(kind, dataset)
    else:
        path = pathlib.Path(os.path.expandvars(os.path.expanduser(model_dir)))
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"model_dir={model_dir!r} is a file; expected a folder (new or "
            "one to resume)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(
            f"model_dir={model_dir!r} cannot be created ({e.strerror}); "
            "expected a folder this user can write"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(
            f"model_dir={model_dir!r} is not writable; expected a folder "
            "this user can write"
        )
    return path


def toolkit_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("keras-cheats")
    except metadata.PackageNotFoundError:
        return "unknown"


def claim(path, record: dict, restart: bool = False, write: bool = True):
    """Makes `path` hold the run `record` describes; returns the path an
    old run was moved to (with `restart`), else None.

    A folder whose run.json differs from `record` is refused with a
    ValueError listing each difference (unless run.json is all it holds:
    a run that failed before its first result, e.g. on a bad option);
    `restart` renames the folder to `<path>.old-<timestamp>` (nothing is
    deleted) and starts anew. Only `write` (the chief of a multi-worker
    run) writes run.json.
    """
    path = pathlib.Path(path)
    record = {**record, "toolkit_version": toolkit_version()}
    record = json.loads(json.dumps(record))  # as it reads back: lists
    saved = read_json(path / RECORD)
    moved = None
    if restart and path.exists() and any(path.iterdir()):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        moved = path.with_name(f"{path.name}.old-{stamp}")
        path.rename(moved)
        path.mkdir()
        saved = None
    if saved is not None and not _holds_results(path):
        saved = None  # claimed by a run that stopped before any result
    if saved is not None:
        changes = [
            f"{key} {saved.get(key)!r} -> {record.get(key)!r}"
            for key in sorted(set(saved) | set(record))
            if saved.get(key) != record.get(key)
        ]
        if changes:
            raise ValueError(
                f"model_dir={str(path)!r} holds another run ("
                + "; ".join(changes)
                + "); expected the same settings to resume it: pass "
                "--restart to move it aside and start anew, or choose a "
                "new --model_dir"
            )
    elif write:
        write_json_atomic(path / RECORD, record)
    return moved


def _holds_results(path):
    return any(p.name != RECORD for p in path.iterdir())


# Config fields that may change between the runs of one folder: how long
# (a larger --epochs continues a run that resumes), where, and how loud.
RUN_NEUTRAL = frozenset(
    {"epochs", "model_dir", "restart", "verbose", "data_dir", "download"}
)


def record_of(kind: str, config) -> dict:
    """The run.json record of an experiment's config dataclass: its
    fields but RUN_NEUTRAL ones, under `"experiment": kind`."""
    fields = {
        k: v
        for k, v in dataclasses.asdict(config).items()
        if k not in RUN_NEUTRAL
    }
    return {"experiment": kind, **fields}


def open_run(model_dir, kind, config, *, restart=False):
    """The run folder of one experiment's run, ready to write: `model_dir`
    ("" for a new one under runs/) checked by `usable_run_dir` and claimed
    for `record_of(kind, config)` (run.json). An old run moved aside by
    `restart` is named in a warning."""
    path = usable_run_dir(model_dir, kind, config.dataset)
    moved = claim(path, record_of(kind, config), restart=restart)
    if moved is not None:
        logging.warning("--restart: the previous run is now in %s", moved)
    return path
