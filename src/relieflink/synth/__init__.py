"""Synthetic batch generator: a district population, one year of relief
histories, planted rule violations next to compliant near-misses, and the
agencies' exports with their real-world damage, together with the ground
truth.

    from pathlib import Path
    from relieflink.synth import generate_batch
    summary = generate_batch(Path("out"), persons=20000, seed=7, profile="default")

``persons`` is the number of persons in the generated population (the people
known to the assistance system: ~2.3 data rows per person over all files).
``profile``: ``clean`` (format variety only), ``default`` (realistic damage),
``hard`` (several times more). Writes ``out/batch/`` (the files as the
agencies deliver them, SPEC §2) and ``out/truth/`` (persons, households,
mentions, records, planted, quirks as Parquet, and truth.json).

Modules, one job each (all parameters in ``schemas/synth.yaml``):

* ``config``     loads synth.yaml, gazetteer.yaml, programs.yaml; seeded RNG per stage
* ``profiles``   clean / default / hard
* ``ids``        resident-ID check digits (independent of ``relieflink.identity``)
* ``names``      surname frequencies, given names by era, Uyghur names, rare characters
* ``population`` households and persons (vectorized): ages, twins, IDs, phones, addresses
* ``statuses``   低保 / 低保边缘 / 特困 households and roster numbers, disability
                 certificates, 失独 / 伤残, union hardship file
* ``histories``  one year of rows per program, as clean logical tables
* ``anomalies``  planted violations of every SPEC §5 rule and compliant near-misses
* ``habits``     each export's habits (formats, CSV or XLSX, sheet names, clerks)
* ``quirks``     format variety and identity damage of dates, amounts, phones, IDs, names
* ``exports``    each source's columns, order and cell values
* ``layout``     blank rows, 合计 rows and the row numbers a person sees
* ``writers``    CSV / JSONL / XLSX bytes (openpyxl write-only) ; ``xlsx_fast`` the
                 vectorized workbook writer used by default
* ``truth``      the ground-truth tables
* ``months``     the next months: the same ledgers exported later (leavers, movers,
                 late entries, rows reordered, a file renamed; ``generate_batch(month=N)``)
* ``generate``   the pipeline and :class:`SynthSummary`
"""

from __future__ import annotations

from .generate import SynthSummary, generate_batch
from .profiles import PROFILES

__all__ = ["generate_batch", "SynthSummary", "PROFILES"]
