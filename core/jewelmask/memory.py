"""The process's memory allocator, for long 24 MP runs (ctypes only).

Kept apart from the array code (:mod:`jewelmask.fastops` imports OpenCV):
the editors' worker starts without it, and answers its first requests
sooner for that.
"""

from __future__ import annotations

__all__ = ["reuse_freed_memory", "give_back_freed_memory"]


def reuse_freed_memory() -> bool:
    """Let the process reuse freed memory for its next arrays (glibc only).

    A 24 MP photo goes through dozens of full-size float arrays. glibc gives
    every block over 32 MB fresh pages from the kernel (mmap) and hands them
    back when it is freed, so each new array has the kernel zero its pages
    again: on a 2-core machine a fifth to a third of the CPU of a 24 MP
    ``auto`` (measured: 4.2-4.7 s of system time per call, 0.9 s with this).
    This turns mmap off and raises the trim threshold, so freed arrays are
    reused. The peak memory of a call stays about the same; the process
    keeps it until it exits or calls :func:`give_back_freed_memory` (the
    editors' worker does after every command, the batch's workers after
    every photo).

    The command line, the batch's workers and the editors' worker call it
    at start; a program that embeds the engine may. It changes the
    allocator of the whole process, so importing jewelmask does not.

    Returns
    -------
    bool
        True when set (Linux with glibc), False where it does not apply.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4  # malloc.h
        return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):
        return False


def give_back_freed_memory() -> None:
    """Return freed memory to the system (glibc's ``malloc_trim``; elsewhere
    nothing): after a 24 MP photo a long-lived process should not sit on a
    few GB it no longer uses."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
