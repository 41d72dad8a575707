"""Audit reports of a run folder (SPEC §6–7).

:func:`write_reports` reads the Parquet files and ``run.json`` of a run
folder and writes, into the same folder:

* ``report.html`` — the district's report in Chinese, self-contained (inline
  CSS, SVG and script, no external asset), with a flag explorer over every
  flag and identity question (search, filters, sorting, paging, CSV export,
  evidence panel);
* ``report.xlsx`` — the workbook an auditor filters;
* ``flags.jsonl.gz`` — the flags as gzip-compressed JSON Lines, beside ``flags.parquet``;
* ``reports/<agency code>.html`` — one report per agency and subdistrict, the
  same explorer showing only what that agency may see (:mod:`relieflink.visibility`).

Identities (names, IDs, phones) are masked unless ``mask=False`` is passed.
Outputs are deterministic: the same run folder gives the same bytes.

Modules: ``data`` (loading, enrichment, overlap matrix), ``render`` (the
Jinja2 environment; templates under ``templates/``), ``svg`` (chart
geometry), ``html`` (the district report and the counts it shares with the
workbook), ``explorer`` (the explorer's embedded data), ``evidence`` (the
weakest identity link of each flag), ``lookup`` (keyed search hashes),
``labels``, ``xlsx`` (workbook), ``agency`` (per-agency reports),
``jsonout`` (flags.jsonl.gz).
"""

from __future__ import annotations

from pathlib import Path

from relieflink.config.catalog import Catalog
from relieflink.report.data import ReportData, load_run

__all__ = ["write_reports", "load_run", "ReportData"]


def write_reports(run_dir: Path, catalog: Catalog | None = None, *, mask: bool = True, rules=None,
                  manifest: dict | None = None, pseudonym_key: bytes | None = None) -> list[Path]:
    """Write report.html, report.xlsx, flags.jsonl.gz and reports/<agency>.html into ``run_dir``.

    ``run_dir`` holds the run's Parquet files (flags, held flags, records, persons,
    mentions, pairs, quarantine), ``linkage_model.json`` and normally ``run.json``;
    ``manifest`` overrides the latter (pass the manifest dict when ``run.json`` is
    not written yet). ``catalog`` and ``rules`` default to the ones under
    ``schemas/``. With ``pseudonym_key``, resident IDs are written as keyed
    pseudonyms (the same in every report made with the key) instead of masked IDs,
    and the explorer's search key is derived from it.
    Returns the paths written, sorted.
    """
    from relieflink.privacy import Masker
    from relieflink.report.agency import render_agency
    from relieflink.report.explorer import encode, payload, prepare
    from relieflink.report.html import render_report
    from relieflink.report.jsonout import FLAGS_JSONL, write_flags_jsonl
    from relieflink.report.xlsx import write_workbook
    from relieflink.visibility import Scope

    run_dir = Path(run_dir)
    data = load_run(run_dir, catalog, rules)
    if manifest is not None:
        data.manifest = manifest
    masker = Masker(mask, pseudonym_key)
    written: list[Path] = []

    base = prepare(data, masker, pseudonym_key)
    html_path = run_dir / "report.html"
    page = payload(base, Scope(None), f"救助数据比对审计报告 {data.audit_year}年")
    html_path.write_text(render_report(data, masker, encode(page)), encoding="utf-8", newline="\n")
    written.append(html_path)
    written.append(write_workbook(data, run_dir / "report.xlsx", masker))
    written.append(write_flags_jsonl(data, run_dir / FLAGS_JSONL, masker))

    agency_dir = run_dir / "reports"
    agency_dir.mkdir(exist_ok=True)
    for agency in data.catalog.agencies:
        path = agency_dir / f"{agency.code}.html"
        path.write_text(render_agency(base, agency.code, masker), encoding="utf-8", newline="\n")
        written.append(path)
    return sorted(written)
