"""Files read and mapped in worker processes, merged as the serial ingest would have done it.

Reading and mapping one file depends on nothing but the file and the
configuration (names and IDs are normalized value by value, so a file
normalized alone gets the values it gets in the batch-wide pass), so files
can be processed in parallel. What depends on the other files is decided in
the parent, in delivery order, exactly as :func:`~relieflink.ingest.pipeline._ingest_batch`
decides it: whether a file repeats an earlier delivery, and the order in which
quarantine entries are collected. The outputs are therefore byte-identical to
the serial path's whatever the number of workers (tested on the fixtures).

Workers are forked from the parent (no imports to repeat, and no
``if __name__ == "__main__"`` needed in a script that calls
:func:`~relieflink.ingest.pipeline.ingest_batch`; Arrow re-creates its thread
pools after a fork). Files are handed out largest first, so that the longest
file does not start last.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from relieflink.ingest.quarantine import Quarantine

if TYPE_CHECKING:
    from relieflink.ingest.batch import BatchFile
    from relieflink.ingest.pipeline import FileReport, IngestConfig

#: Below this many bytes of files to map, worker start-up (≈1-2 s: imports) costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 2**20

#: ``RELIEFLINK_INGEST_WORKERS`` overrides the automatic choice (1: serial).
WORKERS_ENV = "RELIEFLINK_INGEST_WORKERS"


@dataclass
class FileOutcome:
    """What one worker made of one file, before the parent's batch-wide decisions.

    ``read_parts`` are the quarantine entries of reading (always kept);
    ``key`` the delivery key when the rows can be mapped, with the file's
    ``row_numbers``; ``unread_parts``, ``map_parts``, ``mentions``,
    ``records`` and ``mapped_report`` what mapping it as a first delivery
    gives (None when it was only fingerprinted: a byte-identical copy of an
    earlier file of its table)."""

    report: "FileReport"
    read_parts: list[pd.DataFrame]
    key: tuple[str, str] | None = None
    row_numbers: np.ndarray | None = None
    unread_parts: list[pd.DataFrame] = field(default_factory=list)
    map_parts: list[pd.DataFrame] = field(default_factory=list)
    mentions: pd.DataFrame | None = None
    records: pd.DataFrame | None = None
    mapped_report: "FileReport | None" = None


def read_and_map(bf: "BatchFile", config: "IngestConfig", map_rows: bool = True) -> FileOutcome:
    """Read one file and, unless ``map_rows`` is False, map it as if it were a first delivery."""
    from relieflink.ingest.pipeline import _gc_paused, _map_file, _prepare, _read_file

    with _gc_paused():
        started = time.perf_counter()
        quarantine = Quarantine()
        report, raw, key = _read_file(bf, config, quarantine)
        out = FileOutcome(report=replace(report), read_parts=quarantine.parts)
        if raw is None or key is None:
            out.report.seconds = time.perf_counter() - started
            return out
        out.key, out.row_numbers = key, raw.row_numbers
        if map_rows:
            unread = Quarantine()
            _prepare(bf, raw, unread)
            mapped, mentions, records = Quarantine(), [], []
            _map_file(bf, raw, report, config, mapped, mentions, records, {})
            out.unread_parts, out.map_parts = unread.parts, mapped.parts
            out.mentions, out.records = mentions[0], records[0]
            out.mapped_report = report
        seconds = time.perf_counter() - started
        out.report.seconds = seconds
        if out.mapped_report is not None:
            out.mapped_report.seconds = seconds
        return out


def worker_count(files: list["BatchFile"], requested: int | None) -> int:
    """How many worker processes to use: ``requested``, else ``RELIEFLINK_INGEST_WORKERS``, else the
    usable cores when the files to map are large enough to pay for the start-up and the cores are
    idle (1 = serial).

    Workers cost CPU the serial path does not spend (each pickles its tables back; a name that
    occurs in several files is normalized in each), 40-67 % more CPU at 200k persons: they pay only
    on cores nobody else uses, so the automatic choice is serial when the load average shows the
    cores busy (measured on a shared machine: 0.76x-0.92x the serial speed)."""
    if requested is None and os.environ.get(WORKERS_ENV, "").strip():
        try:
            requested = int(os.environ[WORKERS_ENV])
        except ValueError:
            requested = None
    mappable = [f for f in files if f.table is not None]
    if requested is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if sum(f.size for f in mappable) < PARALLEL_MIN_BYTES or _busy(cores):
            return 1
        requested = cores
    return max(1, min(int(requested), len(mappable)))


def _busy(cores: int) -> bool:
    """True when the last minute's load average leaves less than one core beyond ours idle."""
    try:
        return os.getloadavg()[0] > cores - 1
    except OSError:  # no load average on this system
        return False


def _work(job: tuple["BatchFile", bool]) -> FileOutcome:
    bf, map_rows = job
    assert _CONFIG is not None
    return read_and_map(bf, _CONFIG, map_rows)


_CONFIG: "IngestConfig | None" = None


def _init(config: "IngestConfig") -> None:
    global _CONFIG
    _CONFIG = config


def file_jobs(files: list["BatchFile"]) -> list[tuple["BatchFile", bool]]:
    """The files to read, each with whether to map it, largest first (the long file starts at once).

    A file whose bytes repeat an earlier file of the same table (in delivery
    order) is only fingerprinted: it is bound to be a duplicate delivery.
    """
    from relieflink.ingest.batch import delivery_order

    seen: set[tuple[str, str]] = set()
    jobs: list[tuple["BatchFile", bool]] = []
    for bf in delivery_order(files):
        if bf.table is None:
            continue
        content = (bf.table.table, bf.sha256)
        jobs.append((bf, content not in seen))
        seen.add(content)
    jobs.sort(key=lambda job: (-job[0].size, job[0].name))
    return jobs


def process_files(
    files: list["BatchFile"], config: "IngestConfig", workers: int,
    done: Callable[["BatchFile", FileOutcome], None] | None = None,
) -> dict[str, FileOutcome]:
    """Every file read (and mapped, :func:`file_jobs`) in ``workers`` processes; outcomes by file name."""
    jobs = file_jobs(files)
    context = multiprocessing.get_context("fork")
    outcomes: dict[str, FileOutcome] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init,
                             initargs=(config,)) as pool:
        for (bf, _), outcome in zip(jobs, pool.map(_work, jobs)):
            outcomes[bf.name] = outcome
            if done is not None:
                done(bf, outcome)
    return outcomes
