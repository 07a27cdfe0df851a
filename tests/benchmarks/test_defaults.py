"""benchmarks.defaults: the Markdown rows of BUILD.md's defaults table."""

from benchmarks import defaults


def test_table_rows_hand_written():
    rows = [
        {
            "model": "capsnet", "learning_rate": 0.003, "epochs": 10,
            "batch_size": 64, "optimizer": "adam", "own_optimizer": False,
            "headline": "accuracy", "seconds": 181.26,
            "test": {"accuracy": 0.99351, "loss": 0.0123},
        },
        {
            "model": "dcgan", "learning_rate": 0.001, "epochs": 10,
            "batch_size": 64, "optimizer": "adam", "own_optimizer": True,
            "headline": "classifier_score", "seconds": 9.5,
            "test": {"classifier_score": 5.0512},
        },
    ]  # fmt: skip
    lines = defaults.table(rows).splitlines()
    assert lines[2] == (
        "| `capsnet` | adam, 0.003, 64 | 10 | accuracy **0.9935** | "
        "loss 0.0123 | 181 s |"
    )
    assert lines[3] == (
        "| `dcgan` | its own (`--set`), 64 | 10 | classifier_score "
        "**5.0512** |  | 10 s |"
    )
