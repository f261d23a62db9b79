"""Ctrl-C during ``fit``: an interrupt that arrives while the optimizer updates the weights
waits until the update is complete."""
import contextlib
import signal
import threading

__all__ = ["SIGINT_GUARD"]


class UpdateGuard:
    """Ctrl-C during ``fit``: a KeyboardInterrupt (SIGINT) that arrives while the optimizer
    updates the weights is held back until the update is complete, so an interrupted fit
    leaves the weights and the optimizer's state of the last completed step, never part of
    one. Python delivers signals to the main thread only: ``with guard:`` (around a fit in
    the main thread, nested fits included) puts its handler in place unless the program has
    its own, and ``with guard.update():`` marks the update."""

    def __init__(self):
        self._depth = 0
        self._previous = None
        self._updating = False
        self._pending = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            if (self._depth == 0
                    and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
                self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._depth += 1
        return self

    def __exit__(self, *exc_info):
        if threading.current_thread() is threading.main_thread():
            self._depth -= 1
            if self._depth == 0 and self._previous is not None:
                signal.signal(signal.SIGINT, self._previous)
                self._previous = None
                self._pending = False

    def _on_sigint(self, signum, frame):
        if self._updating:
            self._pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def update(self):
        if self._previous is None or threading.current_thread() is not threading.main_thread():
            yield
            return
        self._updating = True
        try:
            yield
        finally:
            self._updating = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt


SIGINT_GUARD = UpdateGuard()
