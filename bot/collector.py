"""The cyclic garbage collector around start-up.

Start-up makes over 100,000 objects that live as long as the process (modules, classes, the app,
the clients). The collector's passes over them find nothing to free and cost ~130 ms, a sixth of
start-up, and afterwards its full passes would walk them again and stall requests for tens of ms. So
a process command pauses it before it imports anything heavy, and resumes it once started, with
everything made so far frozen out of its way.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The collector is off inside, unless `resume_collector` turns it back on once started; on leaving
    it is on again whatever happened (a start-up that failed included)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def resume_collector() -> None:
    # No gc.collect() first: it would cost ~50 ms of start-up for the few kB of garbage imports leave.
    gc.freeze()
    gc.enable()
