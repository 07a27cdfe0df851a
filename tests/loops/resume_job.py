"""A training job for the resume test: `python -m tests.loops.resume_job
MODEL_DIR OUT.npz [KILL_AT]` trains 3 epochs, optionally SIGKILLs itself
after KILL_AT steps, and saves the final weights."""

import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import loops  # noqa: E402
from experiments.data import Pipeline, Split  # noqa: E402
from tests.loops.helpers import (  # noqa: E402
    classification_task,
    toy_data,
    toy_model,
)


class KillAt(keras.callbacks.Callback):
    def __init__(self, steps):
        super().__init__()
        self.steps, self.seen = steps, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.steps:
            os.kill(os.getpid(), signal.SIGKILL)


def main(model_dir, out, kill_at=0):
    loops.seed_everything(0, deterministic=True)
    x, y = toy_data()
    train = Pipeline(Split(x, y), batch_size=16, shuffle=True, seed=7)
    model = toy_model(dropout=0.3)  # Dropout draws from a SeedGenerator
    callbacks = [KillAt(kill_at)] if kill_at else []
    loops.fit(
        model,
        keras.optimizers.Adam(0.01),
        classification_task(),
        train,
        options=loops.LoopOptions(
            epochs=3,
            seed=0,
            deterministic=True,
            checkpoint_every_steps=2,
            verbose=0,
        ),
        callbacks=callbacks,
        model_dir=model_dir,
    )
    np.savez(out, *model.get_weights())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
