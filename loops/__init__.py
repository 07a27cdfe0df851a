"""Explicit GradientTape training loops (cheat sheet section 2.1).

    task = loops.supervised(loss, metrics=[...])
    history = loops.fit(model, optimizer, task, data.train,
                        validation_data=data.test,
                        options=loops.LoopOptions(epochs=5))

Read in this order: the five steps in `loops.step.train_step`; the
scaling rule for distributed losses in `loops.scaling`; the compiled
calls of several steps in `loops.trainer`; where their batches come from
in `loops.inputs`; the controller (`fit`: epochs, callbacks, checkpoints)
in `loops.engine`; the run folder in `loops.run_folder`.
"""

from loops.engine import NonFiniteLossError, evaluate, fit, seed_everything
from loops.in_memory import InMemory, shuffled
from loops.interrupt import Interrupted
from loops.keras_model import StepModel
from loops.options import LoopOptions
from loops.scaling import regularization_loss, replica_loss
from loops.step import sgd_update, test_step, train_step
from loops.task import Task, supervised
from loops.trainer import Evaluator, Trainer

__all__ = [
    "Evaluator",
    "InMemory",
    "Interrupted",
    "LoopOptions",
    "NonFiniteLossError",
    "StepModel",
    "Task",
    "Trainer",
    "evaluate",
    "fit",
    "regularization_loss",
    "replica_loss",
    "seed_everything",
    "sgd_update",
    "shuffled",
    "supervised",
    "test_step",
    "train_step",
]
