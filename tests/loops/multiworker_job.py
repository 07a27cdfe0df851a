"""One worker of the multi-worker test: `python -m tests.loops.multiworker_job
INDEX PORTS MODEL_DIR OUT.npz EPOCHS`; INDEX -1 runs in one process."""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(index, ports, model_dir, out, epochs):
    if index >= 0:
        os.environ["TF_CONFIG"] = json.dumps(
            {
                "cluster": {"worker": [f"localhost:{p}" for p in ports]},
                "task": {"type": "worker", "index": index},
            }
        )
    import numpy as np
    import tensorflow as tf

    import loops
    from tests.loops.helpers import fit_toy, toy_data

    strategy = (
        tf.distribute.MultiWorkerMirroredStrategy()
        if index >= 0
        else tf.distribute.get_strategy()
    )
    x, y = toy_data(n=64)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    ds = ds.with_options(options)
    history, weights = fit_toy(
        ds,
        strategy,
        l2=0.01,
        options=loops.LoopOptions(epochs=epochs, verbose=0),
        model_dir=model_dir,
    )
    np.savez(out, *weights, loss=np.array(history["loss"]))


if __name__ == "__main__":
    main(
        int(sys.argv[1]),
        [int(p) for p in sys.argv[2].split(",") if p],
        sys.argv[3],
        sys.argv[4],
        int(sys.argv[5]),
    )
