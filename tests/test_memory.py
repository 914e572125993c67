"""Memory given back: arrays freed after a large set-up leave the process (glibc's malloc with
its mmap threshold pinned by ``engine.return_large_frees``), instead of staying resident as
holes in the heap."""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from simulator import engine

    def rss_mb():
        with open("/proc/self/status") as f:
            return int(f.read().split("VmRSS:")[1].split()[0]) / 1024

    if sys.argv[1] == "pinned":
        assert engine.return_large_frees()
    a = np.ones(2**21)   # a 16 MB array freed: glibc's dynamic threshold rises to it
    del a
    before = rss_mb()
    big, kept = [], []
    for _ in range(8):   # 6 MB arrays, each followed by a small array that stays
        big.append(np.ones(6 * 2**17))
        kept.append(np.ones(2**15))
    del big
    print(rss_mb() - before)
""")


def _resident_after_free(mode: str) -> float:
    p = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                       check=True)
    return float(p.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_large_arrays_leave_the_process_once_the_threshold_is_pinned():
    held = _resident_after_free("default")
    given_back = _resident_after_free("pinned")
    # 48 MB freed; the small arrays kept (2 MB) stay either way
    assert held > 40
    assert given_back < 8
