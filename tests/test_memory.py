"""The allocator settings of the entry points (jewelmask.memory)."""

import subprocess
import sys
import textwrap

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_reuse_freed_memory_serves_large_arrays_without_fresh_mappings():
    # in a child process: it changes the allocator of the whole process
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from jewelmask.memory import reuse_freed_memory

        def big_mappings():
            n = 0
            for line in open("/proc/self/maps"):
                lo, hi = (int(v, 16) for v in line.split()[0].split("-"))
                n += hi - lo >= 64 << 20 and "[heap]" not in line
            return n

        ok = reuse_freed_memory() if sys.argv[1] == "on" else False
        before = big_mappings()
        a = np.ones((5000, 4000), np.float32)  # 80 MB
        print(ok, big_mappings() - before)
    """)
    out = {}
    for mode in ("off", "on"):
        res = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True)
        out[mode] = res.stdout.split()
    assert out["off"] == ["False", "1"]  # glibc maps a large array on its own
    assert out["on"] == ["True", "0"]  # now it comes from the heap, where it is reused
