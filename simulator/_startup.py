"""Ctrl-C while ``python -m simulator`` loads its modules (pandas, numpy: about half a
second), before the command's own handling of it is in place."""

from __future__ import annotations

import os
import signal
import sys


def hold_ctrl_c() -> bool:
    """Under ``python -m simulator``, hold Ctrl-C back while the package's modules load: one
    landing inside a compiled extension's import came out as numpy's "bad install" ImportError,
    or was swallowed (the run went on). Returns whether it is held; imported as a library (a
    notebook, a script), nothing is changed."""
    if sys.argv[:1] != ["-m"] or not hasattr(signal, "pthread_sigmask"):
        return False   # "-m": what Python puts there while it imports a -m package
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return True


def release_ctrl_c(held: bool) -> None:
    """Let a held Ctrl-C through: one line and status 130, as once the command runs."""
    if not held:
        return
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        # not SystemExit: raised inside runpy's import of the package, Python sometimes ends
        # by SIGINT instead (6 times in 45 with a bare package); nothing is open or written
        os._exit(130)
