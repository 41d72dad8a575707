"""The generator's pipeline: population → statuses → near-miss tweaks →
histories → planted anomalies → exports → layout → files → truth."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.outputs import StagedOutput, preflight
from relieflink.progress import StageCallback, notify

from .anomalies import Planter, RowPlanter
from .config import load_config, rng_for
from .exports import Exporter
from .histories import Histories
from .layout import lay_out
from .months import advance, export_stamp
from .population import generate_population
from .statuses import assign_statuses
from .truth import (GENERATED_FOLDER, households_table, mentions_of, persons_table, planted_of, quirks_of,
                    records_of, write_truth)
from .writers import duplicate_name, write_sheet

#: bytes to find free before generating: a generated batch and its truth measured about 550 bytes per
#: person (200k persons: 79 MB of exports, 29 MB of truth); 4x that leaves a margin
BYTES_PER_PERSON = 2200

TABLE_ORDER = ["zgh", "jyj", "rsj", "mzj_roster", "mzj_medical", "mzj_elderly", "cl_subsidy", "cl_registry",
               "sfj", "jsj", "jd"]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenation through Arrow: pandas is slow on many all-None object columns."""
    import pyarrow as pa

    tables = [pa.Table.from_pandas(f, preserve_index=False) for f in frames]
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()


@dataclass
class SynthSummary:
    out_dir: Path
    seed: int
    profile: str
    persons: int
    households: int
    files: dict[str, int] = field(default_factory=dict)   # file name -> data rows
    rows: int = 0                                          # data rows over all files (copies included)
    planted: int = 0
    compliant: int = 0
    duplicate_delivery: str | None = None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


#: the phases of :func:`generate_batch`, in order (its ``timings`` and progress events)
PHASES = ("population", "histories", "exports", "write", "truth")


def generate_batch(out_dir: Path | StagedOutput, persons: int, seed: int, profile: str = "default",
                   schemas_dir: Path | None = None, month: int = 1, *, true_flags: bool = False,
                   on_stage: StageCallback | None = None) -> SynthSummary:
    """Generate a batch (``out_dir/batch``) and its ground truth (``out_dir/truth``).

    ``out_dir`` is written as a run folder is (:mod:`relieflink.outputs`): it must be absent,
    empty, or a folder the generator wrote (:data:`~relieflink.synth.truth.GENERATED_FOLDER`)
    holding nothing else — anything else raises :class:`~relieflink.errors.OutputRefused`
    before any work; the new folder is written beside it and swapped into its place at the
    end, so a failure or a kill leaves the previous one as it was. Or ``out_dir`` is the
    :class:`~relieflink.outputs.StagedOutput` of a preflight the caller made.
    ``month``: 1 is the batch as first exported; ``N`` the same population's ledgers
    exported ``N - 1`` months later (leavers, movers, late entries, rows reordered, a
    file renamed: :mod:`relieflink.synth.months`), with the same true person ids.
    ``true_flags``: also write ``truth/flags.parquet``, the audit rules applied to the
    clean truth (:func:`relieflink.audit.truth.write_true_flags`; the truth itself owes
    nothing to the pipeline's ingest or identity code).
    ``on_stage``: told when each phase (population, histories, exports, write, truth)
    begins and ends (:mod:`relieflink.progress`).
    """
    staged = out_dir if isinstance(out_dir, StagedOutput) else None
    try:
        if persons < 50:
            raise ValueError("persons must be at least 50")
        if not 1 <= int(month) <= 12:
            raise ValueError("month must be between 1 and 12")
        cfg = load_config(profile, schemas_dir)
    except BaseException:
        if staged is not None:
            staged.abandon()
        raise
    target = staged if staged is not None else preflight(Path(out_dir), kind=GENERATED_FOLDER,
                                                          needed=BYTES_PER_PERSON * int(persons))
    with target as folder:
        summary = _generate(folder, cfg, int(persons), int(seed), profile, int(month), on_stage)
        if true_flags:
            from relieflink.audit.truth import write_true_flags

            write_true_flags(folder)
    summary.out_dir = target.shown
    return summary


def _generate(out_dir: Path, cfg, persons: int, seed: int, profile: str, month: int,
              on_stage: StageCallback | None = None) -> SynthSummary:
    """The generator's pipeline, into a fresh folder ``out_dir``."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name, t):
        timings[name] = round(time.perf_counter() - t, 3)
        notify(on_stage, name, "done", timings[name])
        following = PHASES.index(name) + 1
        if following < len(PHASES):
            notify(on_stage, PHASES[following], "start")
        return time.perf_counter()

    t = time.perf_counter()
    notify(on_stage, PHASES[0], "start", persons=int(persons))
    pop = generate_population(cfg, int(persons), int(seed))
    assign_statuses(cfg, pop, int(seed))
    t = lap("population", t)
    planter = Planter(cfg, pop, int(seed))
    planter.tweak_persons()
    hist = Histories(cfg, pop, int(seed))
    tables = hist.build_all()
    rid = 0
    for k in TABLE_ORDER:
        tables[k] = tables[k].reset_index(drop=True)
        tables[k]["rid"] = np.arange(rid, rid + len(tables[k]), dtype=np.int64)
        rid += len(tables[k])
    planted = RowPlanter(planter, tables, hist).run()
    t = lap("histories", t)

    ex = Exporter(cfg, pop.persons, pop.households, int(seed))
    built = []
    for k in TABLE_ORDER:
        if k == "jd":
            jd = tables["jd"]
            for i, s in enumerate(cfg.subdistricts):
                sh, tt = ex.jd(jd[jd["sub"].to_numpy().astype(int) == i], s.code, i)
                built.append((sh, tt))
        else:
            built.append(getattr(ex, k)(tables[k]))
    stamp, month_changes = cfg.export_timestamp, None
    if month > 1:
        built, month_changes = advance(cfg, pop, built, int(seed), int(month))
        stamp = export_stamp(cfg, int(month))
    t = lap("exports", t)

    batch = out_dir / "batch"
    truth_dir = out_dir / "truth"
    for d in (batch, truth_dir):
        d.mkdir(parents=True)
    prof = cfg.profile_cfg
    laid_all = []
    for sh, tt in built:
        laid = lay_out(sh, rng_for(int(seed), "layout", sh.filename), float(prof["blank_row_rate"]),
                       float(prof.get("blank_line_style_empty", 0.5)))
        write_sheet(batch, sh, laid, stamp, str(cfg.synth["habits"].get("xlsx_engine", "fast")))
        laid_all.append((sh, laid, tt))
    t = lap("write", t)

    # the same subdistrict file delivered twice under another name
    dup = None
    if prof.get("duplicate_delivery"):
        jd_sheets = [x for x in laid_all if x[0].key == "jd" and len(x[0].cells)]
        if jd_sheets:
            r = rng_for(int(seed), "duplicate_delivery")
            sh, laid, tt = jd_sheets[int(r.integers(0, len(jd_sheets)))]
            dup = (sh.filename, duplicate_name(sh.filename))
            shutil.copyfile(batch / dup[0], batch / dup[1])

    P = pop.persons
    recs, ments, qs = [], [], []
    for sh, laid, tt in laid_all:
        rc = records_of(sh, laid, tt, P)
        mt = mentions_of(sh, laid, P)
        qq = quirks_of(sh, laid, P)
        recs.append(rc)
        ments.append(mt)
        qs.append(qq)
        if dup and sh.filename == dup[0]:
            rc2 = rc.copy()
            rc2["file"] = dup[1]
            rc2["row_kind"] = np.where(rc2["row_kind"] == "data", "duplicate_delivery", rc2["row_kind"])
            rc2["copy_of_file"] = dup[0]
            recs.append(rc2)
            ments.append(mt.assign(file=dup[1]))
            qs.append(qq.assign(file=dup[1]))
    records = _concat(recs)
    mentions = _concat(ments)
    quirks = _concat([q for q in qs if len(q)]) if any(len(q) for q in qs) else qs[0]
    planted_df = planted_of(planted, records, P)
    counts = records[records["row_kind"].isin(["data", "duplicate_delivery"])].groupby("file").size()
    files = {f: int(counts.get(f, 0)) for f in sorted(set(records["file"]))}
    meta = {
        "generator_version": cfg.synth["version"], "seed": int(seed), "profile": profile,
        "persons": int(len(P)), "households": int(len(pop.households)),
        "counts": files, "physical_rows": records.groupby("file").size().astype(int).to_dict(),
        "files": sorted(p.name for p in batch.iterdir()),  # every file written (a header-only one too)
        "duplicate_delivery": {"original": dup[0], "copy": dup[1]} if dup else None,
        "planted": planted_df[~planted_df["compliant"]].groupby("rule_id").size().astype(int).to_dict(),
        "compliant": planted_df[planted_df["compliant"]].groupby("rule_id").size().astype(int).to_dict(),
        "year": cfg.year, "month": int(month),
    }
    records = records.drop(columns=["rid"])
    truth_tables = {
        "persons": persons_table(P), "households": households_table(pop.households), "mentions": mentions,
        "records": records, "planted": planted_df, "quirks": quirks,
    }
    if month_changes is not None:
        truth_tables["months"] = month_changes
        counts = month_changes.groupby(["month", "change"]).size()
        meta["months"] = {f"{m}:{c}": int(n) for (m, c), n in counts.items()}
    write_truth(truth_dir, truth_tables, meta)
    lap("truth", t)
    return SynthSummary(out_dir=out_dir, seed=int(seed), profile=profile, persons=int(len(P)),
                        households=int(len(pop.households)), files=files, rows=int(sum(files.values())),
                        planted=int((~planted_df["compliant"]).sum()), compliant=int(planted_df["compliant"].sum()),
                        duplicate_delivery=dup[1] if dup else None,
                        seconds=round(time.perf_counter() - t0, 2), timings=timings)
