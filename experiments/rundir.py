"""Where a run writes when no --model_dir is given."""

import datetime
import pathlib


def new_run_dir(kind: str, dataset: str) -> pathlib.Path:
    """runs/<kind>-<dataset>-<timestamp>, relative to the working folder."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    dataset = dataset.replace("/", "_").replace(":", "-")
    return pathlib.Path("runs") / f"{kind}-{dataset}-{stamp}"
