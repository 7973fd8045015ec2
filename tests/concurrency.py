"""Run calls at the same moment on separate database connections (for race tests on PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def run_together(*calls: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(len(calls))
    out: list[object] = [None] * len(calls)

    def worker(i: int, fn: Callable[[], object]) -> None:
        try:
            barrier.wait()
            out[i] = fn()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out
