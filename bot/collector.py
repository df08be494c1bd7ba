"""The cyclic garbage collector around start-up.

Start-up makes over 100,000 objects that live as long as the process (modules, classes, the app,
the clients). The collector's passes over them find nothing to free and cost ~130 ms, a sixth of
start-up, and afterwards its full passes would walk them again and stall requests for tens of ms. So
a process command pauses it before it imports anything heavy, and resumes it once started, with
everything made so far frozen out of its way.
"""

from __future__ import annotations

import gc


def pause_collector() -> None:
    gc.disable()


def resume_collector() -> None:
    # No gc.collect() first: it would cost ~50 ms of start-up for the few kB of garbage imports leave.
    gc.freeze()
    gc.enable()
