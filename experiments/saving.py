"""The trained model, handed back: `RUN/model.keras`, and for classifiers
a TensorFlow SavedModel for serving in `RUN/export`.

    import keras, keras_cheats  # keras_cheats registers its layers
    model = keras.models.load_model("RUN/model.keras")

Both are written atomically: a temporary name in the same folder, then a
rename, so a kill leaves the previous file or folder whole.
"""

import os
import pathlib
import shutil

MODEL_FILE = "model.keras"
EXPORT_DIR = "export"


def save_model(model, run_dir, classifier: bool):
    """Writes model.keras (and export/ for a classifier) into `run_dir`."""
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f".tmp-{MODEL_FILE}"  # Keras wants the .keras suffix
    model.save(tmp)
    os.replace(tmp, run_dir / MODEL_FILE)
    if classifier:
        tmp_dir, final = run_dir / f".tmp-{EXPORT_DIR}", run_dir / EXPORT_DIR
        shutil.rmtree(tmp_dir, ignore_errors=True)
        model.export(str(tmp_dir), verbose=False)
        old = run_dir / f".old-{EXPORT_DIR}"
        if final.exists():
            final.rename(old)
        tmp_dir.rename(final)
        shutil.rmtree(old, ignore_errors=True)


def load_model(run_dir):
    """The model of a run folder (registers this toolkit's layers first)."""
    import keras

    import keras_cheats  # noqa: F401  (registers the custom layers)

    path = pathlib.Path(run_dir) / MODEL_FILE
    if not path.exists():
        raise ValueError(
            f"model_dir={str(run_dir)!r} has no {MODEL_FILE}; expected the "
            "folder of a finished experiments.train run"
        )
    return keras.models.load_model(path)
