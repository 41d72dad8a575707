"""Batches edited as next month's exports would be: rows in another order, files renamed."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: an OUT folder written by the base commit (ecc8e90) on fixtures/small-hard/batch
BASE_OUT = FIXTURES / "small-hard-out-ecc8e90"
#: CSV files of small-hard (and their encodings) that hold persons without a valid ID
MOVED = {"rsj_就业援助.csv": "gbk", "sfj_法律援助.csv": "gb18030", "mzj_医疗救助.csv": "utf-8",
         "mzj_老年人保险.csv": "utf-8"}


def shuffled_copy(batch: Path, dest: Path, files: dict[str, str], seed: int = 1) -> Path:
    """A copy of ``batch`` where each CSV in ``files`` (name -> encoding) has its data lines in
    another order and a new name (``X.csv`` -> ``X_重新导出.csv``)."""
    shutil.copytree(batch, dest)
    for name, encoding in files.items():
        path = dest / name
        header, *lines = path.read_bytes().decode(encoding).split("\r\n")
        tail = [""] if lines and lines[-1] == "" else []
        lines = [line for line in lines if line.strip(",")]
        random.Random(seed).shuffle(lines)
        path.unlink()
        (dest / name.replace(".csv", "_重新导出.csv")).write_bytes("\r\n".join([header, *lines, *tail]).encode(encoding))
    return dest
