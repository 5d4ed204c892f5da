"""The machine state every timed run starts from, shared by the benchmarks.

settle() first pauses, so that the previous peer's idle BLAS/OpenMP threads,
which busy-wait for ~0.1 s after their last call, stop before the next peer
is timed: on 2 cores that spinning would be charged to whoever runs next.

It then keeps every core busy for a moment (warm()), because a core that has
just idled runs slowly for a while. Measured on the 2-core VM these tables
come from (best / median of 7 fits, seconds):

    fit                                  back to back   after 0.3 s idle   idle + 50 ms on every core
    MinibatchNetwork, cancer, 500 ep.    0.0233/0.0236  0.0243/0.0322      0.0235/0.0237
    DualLayer, cancer, 2000 epochs       0.0370/0.0373  0.0501/0.0648      0.0371/0.0381

A 20 ms warm-up on the calling core alone left the two-thread DualLayer
fit at 0.064 s (median). Without the warm-up a fit of a few tens of
milliseconds is charged for the wake-up, while a peer whose run takes
seconds hardly is: every peer gets the same pause and the same warm-up.
"""
import atexit
import os
import subprocess
import sys
import time

SETTLE_SECONDS = 0.3  # the pause (see above)
WARM_SECONDS = 0.05   # every core busy for this long after it

# a helper process: spins for the number of seconds on each line it reads,
# then answers with an empty line
_SPINNER = r"""
import sys, time
for line in sys.stdin:
    end = time.perf_counter() + float(line)
    while time.perf_counter() < end:
        pass
    sys.stdout.write("\n")
    sys.stdout.flush()
"""

_helpers = []


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _stop_helpers():
    for p in _helpers:
        try:
            p.stdin.close()
            p.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            p.kill()
    _helpers.clear()


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def warm(seconds=WARM_SECONDS):
    """Keep every core busy for `seconds`: this process spins on one, a
    helper process (started on first use, one per further core) on each of
    the others. Returns when all have finished."""
    if not _helpers and _cores() > 1:
        for _ in range(_cores() - 1):
            _helpers.append(subprocess.Popen([sys.executable, "-c", _SPINNER],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             text=True, bufsize=1))
        atexit.register(_stop_helpers)
    for p in _helpers:
        p.stdin.write(f"{seconds}\n")
        p.stdin.flush()
    _spin(seconds)
    for p in _helpers:
        p.stdout.readline()


def settle():
    """Pause, then warm every core: the state each timed run starts from."""
    time.sleep(SETTLE_SECONDS)
    warm()
