"""Audit reports of a run folder (SPEC §6–7).

:func:`write_reports` reads the Parquet files and ``run.json`` of a run
folder and writes, into the same folder:

* ``report.html`` — the district's report in Chinese, self-contained (inline
  CSS and SVG, no script, no external asset);
* ``report.xlsx`` — the workbook an auditor filters (汇总, 发现, 待复核, one
  sheet per rule, 已排除, 交叉矩阵, 数据质量);
* ``flags.json`` — the flags as JSON, beside ``flags.parquet``;
* ``reports/<agency code>.html`` — one report per agency and subdistrict,
  showing only what that agency may see (see :mod:`relieflink.report.agency`).

Identities (names, IDs, phones) are masked unless ``mask=False`` is passed.
Outputs are deterministic: the same run folder gives the same bytes.

Modules: ``data`` (loading, enrichment, overlap matrix), ``masking``,
``svg`` (hand-drawn charts), ``html`` (the district report), ``xlsx``
(workbook), ``agency`` (per-agency reports and their visibility rule),
``jsonout`` (flags.json).
"""

from __future__ import annotations

from pathlib import Path

from relieflink.config.catalog import Catalog
from relieflink.report.data import ReportData, load_run

__all__ = ["write_reports", "load_run", "ReportData"]


def write_reports(run_dir: Path, catalog: Catalog | None = None, *, mask: bool = True, rules=None,
                  manifest: dict | None = None, pseudonym_key: bytes | None = None) -> list[Path]:
    """Write report.html, report.xlsx, flags.json and reports/<agency>.html into ``run_dir``.

    ``run_dir`` holds the run's Parquet files (flags, records, persons,
    mentions, quarantine) and normally ``run.json``; ``manifest`` overrides
    the latter (pass the manifest dict when ``run.json`` is not written yet).
    ``catalog`` and ``rules`` default to the ones under ``schemas/``. With
    ``pseudonym_key``, resident IDs are written as keyed pseudonyms (the same
    in every report made with the key) instead of masked IDs.
    Returns the paths written, sorted.
    """
    from relieflink.report.agency import involved_records, render_agency
    from relieflink.report.html import render_report
    from relieflink.report.jsonout import write_flags_json
    from relieflink.privacy import Masker
    from relieflink.report.xlsx import write_workbook

    run_dir = Path(run_dir)
    data = load_run(run_dir, catalog, rules)
    if manifest is not None:
        data.manifest = manifest
    masker = Masker(mask, pseudonym_key)
    written: list[Path] = []

    html_path = run_dir / "report.html"
    html_path.write_text(render_report(data, masker), encoding="utf-8", newline="\n")
    written.append(html_path)
    written.append(write_workbook(data, run_dir / "report.xlsx", masker))
    written.append(write_flags_json(data, run_dir / "flags.json", masker))

    agency_dir = run_dir / "reports"
    agency_dir.mkdir(exist_ok=True)
    records = involved_records(data)
    for agency in data.catalog.agencies:
        path = agency_dir / f"{agency.code}.html"
        path.write_text(render_agency(data, agency.code, masker, records), encoding="utf-8", newline="\n")
        written.append(path)
    return sorted(written)
