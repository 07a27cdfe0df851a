"""Clean stops: SIGINT (Ctrl-C) and SIGTERM (a preempted cloud VM).

While `stop_on_signals()` is active, either signal only sets a flag; the
engine checks it at each call boundary, saves a checkpoint there and raises
`Interrupted`, which a command turns into one line and exit status
128 + the signal's number (130, 143). A second signal while the first is
being handled stops at once, as the default handler would.

Several workers (`MultiWorkerMirroredStrategy`) agree at each call boundary
on whether any of them got a signal (`agreed_signal`, one small all-reduce),
so all stop at the same step and take part in the same final save. A worker
that dies without warning (SIGKILL, a crash, a lost machine) is noticed by
TensorFlow's coordination service, whose heartbeats time out in about 10 s
and abort the others' collectives; `peers_watched` turns that error into
`PeerLost`: one line, exit status 75 (EX_TEMPFAIL: rerun every worker with
the same command to resume from the chief's last checkpoint).
"""

import contextlib
import re
import signal
import threading
import weakref

import tensorflow as tf

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """Training stopped on a signal, at a call boundary."""

    def __init__(self, signum, checkpoint=None, where=""):
        self.signum, self.checkpoint = signum, checkpoint
        self.exit_status = 128 + signum
        saved = (
            f"checkpoint saved: {checkpoint}; the same command resumes"
            if checkpoint
            else "no checkpoint saved (no model_dir)"
        )
        super().__init__(
            f"stopped by {signal.Signals(signum).name} {where}; {saved}"
        )


class _Flag:
    signum = None


@contextlib.contextmanager
def stop_on_signals():
    """Yields a flag whose `signum` is set by the first SIGINT/SIGTERM.

    Signal handlers can only be set in the main thread; elsewhere the flag
    stays unset and signals act as usual.
    """
    flag = _Flag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.signum is not None:  # the second one: stop now
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        flag.signum = signum

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def agreed_signal(strategy, signum):
    """The signal any worker got (the largest number; None if none), the
    same on every worker; `signum` itself with one worker. Each worker must
    call it at the same point (a call boundary): it is a collective."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return signum
    got = tf.constant([float(signum == s) for s in SIGNALS])
    total = _sum_over_workers(strategy)(got)  # ReduceOp has no MAX
    received = [s for s, n in zip(SIGNALS, total.numpy()) if n > 0]
    return int(max(received)) if received else None


_SUMS = weakref.WeakKeyDictionary()  # strategy -> its compiled sum


def _sum_over_workers(strategy):
    if strategy not in _SUMS:

        @tf.function
        def total(got):
            local = strategy.run(tf.identity, args=(got,))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, local, None)

        _SUMS[strategy] = total
    return _SUMS[strategy]


class PeerLost(Exception):
    """A worker of a multi-worker run stopped without warning."""

    exit_status = 75  # EX_TEMPFAIL: a rerun of every worker resumes

    def __init__(self, peer, cause, checkpoint=None):
        self.peer, self.checkpoint = peer, checkpoint
        resume = (
            f"rerun every worker with the same command to resume from "
            f"{checkpoint}"
            if checkpoint
            else "no checkpoint was saved yet; rerun every worker to start "
            "again"
        )
        super().__init__(f"lost a peer, {peer} ({cause}); {resume}")


# TensorFlow's errors when a peer is gone: collectives aborted by the
# coordination service (heartbeats), or the peer's socket closed.
_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.AbortedError,
    tf.errors.CancelledError,
    tf.errors.DeadlineExceededError,
)


@contextlib.contextmanager
def peers_watched(strategy, checkpoint_dir=None):
    """Under several workers, turns the error of a lost peer into
    `PeerLost` naming the peer and the chief's last checkpoint in
    `checkpoint_dir`; other errors, and all errors under other strategies,
    pass unchanged."""
    try:
        yield
    except _PEER_ERRORS as e:
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise
        checkpoint = (
            tf.train.latest_checkpoint(str(checkpoint_dir))
            if checkpoint_dir
            else None
        )
        raise PeerLost(*_describe(e.message), checkpoint) from None


_TASK = r"/job:\w+(?:/replica:\d+)?/task:\d+"


def _describe(message):
    """(peer, cause) from a lost-peer error message."""
    unhealthy = re.search(
        rf"stopped sending heartbeats\):\s*({_TASK})", message
    )
    if unhealthy:
        return unhealthy.group(1), "it stopped sending heartbeats"
    remote = re.search(rf"remote target ({_TASK})", message)
    if remote:
        return remote.group(1), "its connection closed"
    first = message.strip().splitlines()[0] if message.strip() else "?"
    return "a worker", first
