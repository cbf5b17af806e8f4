"""Progress over rounds or epochs for long commands (issue 15, defect 11: ``fsnn federate`` was
silent for its whole run). On a terminal: a tqdm bar on stderr. Otherwise (a log file, a pipe):
one heartbeat line whenever 10 % of the steps are done or 30 s have passed since the last line,
so a log shows the run is alive without one line per round."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator

HEARTBEAT_SECONDS = 30.0
HEARTBEAT_FRACTION = 0.1


def progress(label: str, total: int, *, start: int = 0, quiet: bool = False, stream=None,
             clock: Callable[[], float] = time.monotonic) -> Callable[[Iterable], Iterator]:
    """A wrapper for the iterable of steps (as `run_federated`'s ``progress`` takes): a bar on a
    terminal, heartbeat lines otherwise, nothing when ``quiet``. ``start``: steps already done
    (a resumed run)."""

    def wrap(iterable: Iterable) -> Iterator:
        out = sys.stderr if stream is None else stream
        if quiet:
            yield from iterable
            return
        if getattr(out, "isatty", lambda: False)():
            from tqdm import tqdm

            yield from tqdm(iterable, desc=label, total=total - start, initial=0, file=out, leave=False)
            return
        t0 = last = clock()
        every = max(1, round(HEARTBEAT_FRACTION * total))
        done = start
        for item in iterable:
            yield item
            done += 1
            now = clock()
            if done % every == 0 or done == total or now - last >= HEARTBEAT_SECONDS:
                print(f"[{label}] {done}/{total} ({100 * done / total:.0f} %) {now - t0:.0f} s",
                      file=out, flush=True)
                last = now

    return wrap
