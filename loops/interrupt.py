"""Clean stops: SIGINT (Ctrl-C) and SIGTERM (a preempted cloud VM).

While `stop_on_signals()` is active, either signal only sets a flag; the
engine checks it at each call boundary, saves a checkpoint there and raises
`Interrupted`, which a command turns into one line and exit status
128 + the signal's number (130, 143). A second signal while the first is
being handled stops at once, as the default handler would.
"""

import contextlib
import signal
import threading

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
