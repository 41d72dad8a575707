"""The flag explorer's data: every flag and identity question of a run, embedded in the page.

``report.html`` and each ``reports/<agency>.html`` carry one payload that the
page's script (``templates/explorer.js``) decodes and renders: full-text
search, filters, sorting, paging, CSV export and the evidence panel. The
payload is columnar JSON — one array per field, strings dictionary-encoded
(rules, programs, agencies, files, masked names …), dates as day numbers,
money in fen — gzip-compressed (fixed header: no name, no time) and
base64-encoded into a ``<script type="application/octet-stream">`` element,
which the browser inflates with ``DecompressionStream``.

What a page holds is decided in two steps: :func:`prepare` builds the
platform's view once per run (masked identities; nothing unmasked leaves
this module except through the keyed search hashes), and :func:`payload`
cuts it for a viewer **only through** :class:`relieflink.visibility.Scope`:
``Scope.flags`` chooses the flags and reduces them (amounts, explanations,
link confidence), ``Scope.records`` reduces the records (another agency's
only as agency, program and period). Search indices and dictionaries are
built from what is left, so nothing of another agency's records reaches the
page, in fields or in texts.

Search by full ID or name: the page carries, per person, the first 32 bits
of HMAC-SHA256 of the normalized ID and name under the page's search key,
never the values; the script hashes what is typed with WebCrypto and
compares (see :mod:`relieflink.report.lookup`).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relieflink.audit.output import EVIDENCE_CHANGED
from relieflink.privacy import Masker
from relieflink.report import lookup
from relieflink.report.data import UNKNOWN_SUBDISTRICT, ReportData
from relieflink.report.evidence import JOINED, WeakestLinks, load_comparisons, read_pairs, weakest_links
from relieflink.report.labels import COMPARISON_ZH, LEVEL_ZH
from relieflink.visibility import Scope

PAYLOAD_VERSION = 1
STATUSES = ("finding", "review", "held")
DECISIONS = ("", "confirmed", "dismissed")
NOTES = ("", EVIDENCE_CHANGED)
_EPOCH = np.datetime64("1970-01-01", "D")
_FLAG_ID = re.compile(r"^F[0-9a-f]{16}$")
_BASIS = "。依据："


@dataclass
class ExplorerBase:
    """The platform's view of every entry (flag or held identity question), prepared once per run.

    ``entries``: one row per entry (flags, then held items) with the masked values
    a page shows and the plain person fields the search hashes are made of.
    ``involved``: ``entry``, ``record`` (row of ``records``), in each entry's order.
    ``records``: the involved records, sorted by file and row, identity masked.
    ``links``: the weakest link of each entry (:mod:`relieflink.report.evidence`).
    """

    entries: pd.DataFrame
    involved: pd.DataFrame
    records: pd.DataFrame
    links: WeakestLinks
    data: ReportData
    search_key: bytes


# ---------------------------------------------------------------------------- preparation


def _involved(entries: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """(entry, file, row, record) for every record an entry cites, in its order; ``record``
    is the row position in ``records`` (-1 when the record is not in records.parquet)."""
    lists = entries["records"]
    lengths = np.fromiter((len(r) for r in lists), dtype=np.int64, count=len(lists))
    flat = [d for recs in lists for d in recs]
    out = pd.DataFrame({"entry": np.repeat(np.arange(len(entries)), lengths),
                        "file": pd.Series([d["file"] for d in flat], dtype=object),
                        "row": np.fromiter((int(d["row"]) for d in flat), dtype=np.int64, count=len(flat))})
    where = pd.DataFrame({"file": records["file"].astype(object).to_numpy(),
                          "row": records["row"].to_numpy(dtype=np.int64), "record": np.arange(len(records))})
    out = out.merge(where.drop_duplicates(["file", "row"]), on=["file", "row"], how="left", sort=False)
    out["record"] = out["record"].fillna(-1).astype(np.int64)
    return out


def _days(values: pd.Series) -> np.ndarray:
    """Dates as days since 1970-01-01 (float, NaN when missing)."""
    d = pd.to_datetime(values, errors="coerce")
    out = (d.to_numpy(dtype="datetime64[D]") - _EPOCH).astype("float64")
    out[d.isna().to_numpy()] = np.nan
    return out


def prepare(data: ReportData, mask: Masker, pseudonym_key: bytes | None = None) -> ExplorerBase:
    """The platform's explorer data for ``data`` (flags and held items), identities masked by ``mask``."""
    flags = data.flags.assign(_held=False)
    held = data.held.assign(_held=True) if len(data.held) else data.held
    parts = [p for p in (flags, held) if len(p)]
    entries = pd.concat(parts, ignore_index=True) if parts else flags
    entries = entries.reset_index(drop=True)
    records = data.records.reset_index(drop=True)
    inv = _involved(entries, records) if len(entries) and len(records) else \
        pd.DataFrame({"entry": pd.Series(dtype=np.int64), "file": pd.Series(dtype=object),
                      "row": pd.Series(dtype=np.int64), "record": pd.Series(dtype=np.int64)})

    # the records any entry cites, sorted by file and row (small deltas within an entry)
    used = np.unique(inv.loc[inv["record"] >= 0, "record"].to_numpy())
    rec = records.iloc[used].copy()
    rec["_pos"] = used
    rec = rec.sort_values(["file", "row"], kind="mergesort").reset_index(drop=True)
    new_index = pd.Series(np.arange(len(rec)), index=rec["_pos"].to_numpy())
    inv = inv[inv["record"] >= 0].reset_index(drop=True)
    inv["record"] = new_index.reindex(inv["record"].to_numpy()).to_numpy()

    links = _links(data, inv, rec)
    rec = _record_view(rec, data, mask)

    e = pd.DataFrame({
        "flag_id": entries["flag_id"].astype(object).to_numpy(),
        "rule_id": entries["rule_id"].astype(object).to_numpy(),
        "category": entries["category"].astype(object).to_numpy(),
        "status": np.where(entries["_held"].to_numpy(dtype=bool), "held", entries["status"].astype(object).to_numpy()),
        "decision": entries["decision"].astype(object).where(entries["decision"].notna(), "").to_numpy(),
        "decision_note": entries["decision_note"].astype(object).where(entries["decision_note"].notna(), "").to_numpy(),
        "agencies": entries["agencies"].to_numpy(), "grantors": entries["grantors"].to_numpy(),
        "subdistrict": entries["subdistrict"].to_numpy(),
        "person_id": entries["person_id"].astype(object).where(entries["person_id"].notna(), None).to_numpy(),
        "name": [mask.name(v) for v in entries["name"]],
        "id": [mask.id(v) for v in entries["id_number"]],
        "name_plain": entries["name"].to_numpy(), "id_plain": entries["id_number"].to_numpy(),
        "p0": _days(entries["period_start"]), "p1": _days(entries["period_end"]),
        "amount_at_stake": pd.to_numeric(entries["amount_at_stake"], errors="coerce").to_numpy(dtype=float),
        "link_confidence": pd.to_numeric(entries["link_confidence"], errors="coerce").to_numpy(dtype=float),
        "programs": entries["programs"].to_numpy(),
        "missed_programs": [list(m) if m is not None else [] for m in entries["missed_programs"]],
        "explanation_zh": [mask.explanation(t, i) for t, i in zip(entries["explanation_zh"], entries["id_number"])],
        "explanation_scoped_zh": [mask.explanation(t, i) if isinstance(t, str) else None
                                  for t, i in zip(entries.get("explanation_scoped_zh", pd.Series([None] * len(entries))),
                                                  entries["id_number"])],
    })
    key = lookup.search_key(data.manifest, pseudonym_key)
    return ExplorerBase(e, inv, rec, links, data, key)


def _links(data: ReportData, inv: pd.DataFrame, rec: pd.DataFrame) -> WeakestLinks:
    """The weakest link of every entry, read from the run's pairs (none when the run folder has none)."""
    comparisons = load_comparisons(data.run_dir) if data.run_dir is not None else []
    mentions = data.mentions
    if data.run_dir is None or mentions.empty or "link_node" not in mentions or inv.empty:
        return weakest_links(inv.assign(record=inv["record"]), rec, pd.DataFrame(), pd.DataFrame(), comparisons)
    m = mentions[["mention_id", "link_node", "person_id"]]
    wanted = rec["beneficiary_mention_id"].dropna().astype(np.int64)
    m = m[m["mention_id"].isin(wanted.to_numpy())]
    pairs = read_pairs(data.run_dir, m["link_node"].dropna().to_numpy(dtype=np.int64))
    return weakest_links(inv, rec, m, pairs, comparisons)


def _record_view(rec: pd.DataFrame, data: ReportData, mask: Masker) -> pd.DataFrame:
    """The involved records as a page shows them: where, what, when, how much, and the beneficiary
    as the record names them (masked)."""
    m = data.mentions
    name = id_raw = pd.Series([None] * len(rec), index=rec.index, dtype=object)
    if not m.empty and "beneficiary_mention_id" in rec:
        by = m.drop_duplicates("mention_id")
        at = pd.Index(by["mention_id"].to_numpy()).get_indexer(rec["beneficiary_mention_id"].to_numpy())

        def column(c: str) -> pd.Series:  # the mention's value per record (None without a mention)
            if c not in by:
                return pd.Series([None] * len(rec), index=rec.index, dtype=object)
            values = np.append(by[c].to_numpy(dtype=object), None)
            return pd.Series(values[at], index=rec.index, dtype=object)  # at == -1: the None appended

        raw_name = column("name_raw")
        name = raw_name.where(raw_name.notna(), column("name"))
        id_raw = column("id_raw")
    start = rec["period_start"] if "period_start" in rec else pd.Series(pd.NaT, index=rec.index)
    if "event_date" in rec:
        start = pd.to_datetime(start, errors="coerce").fillna(pd.to_datetime(rec["event_date"], errors="coerce"))
    return pd.DataFrame({
        "file": rec["file"].astype(object).to_numpy(),
        "row": rec["row"].to_numpy(dtype=np.int64),
        "agency": rec["agency"].astype(object).to_numpy(),
        "program": rec["program"].astype(object).to_numpy(),
        "period_start": _days(start), "period_end": _days(rec["period_end"]),
        "amount": pd.to_numeric(rec["amount"], errors="coerce").to_numpy(dtype=float),
        "subdistrict": rec["subdistrict"].astype(object).where(rec["subdistrict"].notna(), None).to_numpy(),
        "name": [mask.name(v) for v in name], "id": [mask.id(v) for v in id_raw],
    })


# ---------------------------------------------------------------------------- one page's payload


def _codes(values: pd.Series | np.ndarray | list, vocabulary: list[str] | None = None) -> tuple[list[int], list[str]]:
    """Dictionary codes of ``values`` (-1 for missing); the vocabulary given, or the sorted distinct values."""
    s = pd.Series(values, dtype=object)
    if vocabulary is None:
        vocabulary = sorted({v for v in s.dropna().unique() if v != ""} if len(s) else set())
    codes = pd.Index(list(vocabulary), dtype=object).get_indexer(s.to_numpy(dtype=object)) if len(vocabulary) \
        else np.full(len(s), -1, dtype=np.int64)
    return codes.tolist(), list(vocabulary)


def _nums(values: np.ndarray, scale: float = 1.0) -> list[int | None]:
    """Integers (values × scale, rounded), None where missing."""
    v = np.asarray(values, dtype=float) * scale
    out = np.round(v).astype(object)
    out[np.isnan(v)] = None
    return [None if x is None else int(x) for x in out]


def _bits(lists: np.ndarray, order: dict[str, int]) -> list[int]:
    """A bit mask per list of codes (bit i = the code of rank i in ``order``)."""
    return [sum(1 << order[c] for c in set(l) if c in order) for l in lists]


def payload(base: ExplorerBase, scope: Scope, title: str) -> dict[str, Any]:
    """What one page's explorer holds, for ``scope`` (``Scope(None)``: the platform's report).

    The platform's page holds every flag (dismissed ones marked) and every held identity
    question; an agency's page the active flags :meth:`Scope.flags` lets it see, each
    reduced as that method says, with its own records in full and another agency's
    records only as agency, program and period (per flag: one line per agency and
    program, its period spanning theirs, no count). Nothing else of another agency's
    records is in the payload.
    """
    data = base.data
    e = base.entries
    if not scope.is_platform:
        active = (e["status"] != "held") & (e["decision"] != "dismissed")
        e = e[active.to_numpy()]
    # the one contract: which flags, and what of them (amount, explanation, confidence)
    e = scope.flags(e.assign(entry=e.index.to_numpy())).reset_index(drop=True)
    entry_pos = pd.Series(np.arange(len(e)), index=e["entry"].to_numpy())

    inv = base.involved[base.involved["entry"].isin(e["entry"].to_numpy())]
    # ... and what of the records: the index (the record's row in base.records) survives the scope
    seen = scope.records(base.records.iloc[np.unique(inv["record"].to_numpy())])
    own_rec = seen[seen["own"].to_numpy(dtype=bool)]
    theirs = seen[~seen["own"].to_numpy(dtype=bool)]
    inv = inv.assign(entry=entry_pos.reindex(inv["entry"].to_numpy()).to_numpy())
    # own records: as they are; another agency's: per (entry, agency, program) one line, period spanning
    own_inv = inv[inv["record"].isin(own_rec.index.to_numpy())]
    page_rec = own_rec.reset_index(drop=True)
    rec_pos = pd.Series(np.arange(len(page_rec)), index=own_rec.index.to_numpy())
    lines = [pd.DataFrame({"entry": own_inv["entry"].to_numpy(), "record": rec_pos.reindex(own_inv["record"].to_numpy()).to_numpy()})]
    if len(theirs):
        other_inv = inv[inv["record"].isin(theirs.index.to_numpy())]
        t = theirs
        o = pd.DataFrame({"entry": other_inv["entry"].to_numpy(),
                          "agency": t["agency"].reindex(other_inv["record"].to_numpy()).to_numpy(),
                          "program": t["program"].reindex(other_inv["record"].to_numpy()).to_numpy(),
                          "period_start": t["period_start"].reindex(other_inv["record"].to_numpy()).to_numpy(),
                          "period_end": t["period_end"].reindex(other_inv["record"].to_numpy()).to_numpy()})
        o["_open"] = np.isnan(o["period_end"].to_numpy(dtype=float))
        g = o.groupby(["entry", "agency", "program"], sort=True, as_index=False).agg(
            period_start=("period_start", "min"), period_end=("period_end", "max"), _open=("_open", "any"))
        g.loc[g["_open"], "period_end"] = np.nan
        summary = g.drop(columns=["_open"]).assign(own=False)
        start = len(page_rec)
        page_rec = pd.concat([page_rec, summary.drop(columns=["entry"])], ignore_index=True)
        lines.append(pd.DataFrame({"entry": summary["entry"].to_numpy(), "record": np.arange(start, len(page_rec))}))
    lines = pd.concat(lines, ignore_index=True).sort_values(["entry", "record"], kind="mergesort")

    # the subdistrict a page files a flag under: the platform's; for an agency the most frequent
    # among the records it may see (its own), else its own code when it grants what is missing
    if scope.is_platform:
        sub = e["subdistrict"].to_numpy(dtype=object)
    else:
        sub = _own_subdistrict(lines, page_rec, len(e), scope.agency)

    # links: kept when the page shows both records it joins in full
    link_rows = base.links.entries.set_index("entry").reindex(e["entry"].to_numpy())
    joined = link_rows["joined"].fillna("indirect").to_numpy(dtype=object)
    link = link_rows["link"].fillna(-1).to_numpy(dtype=np.int64)
    left_rec = _record_of(base.involved, link_rows["left"].fillna(-1).to_numpy(dtype=np.int64))
    right_rec = _record_of(base.involved, link_rows["right"].fillna(-1).to_numpy(dtype=np.int64))
    shown = (link >= 0) & np.isin(left_rec, rec_pos.index.to_numpy()) & np.isin(right_rec, rec_pos.index.to_numpy())
    used_links = np.unique(link[shown])
    link_pos = pd.Series(np.arange(len(used_links)), index=used_links)
    link_code = np.full(len(e), -1, dtype=np.int64)
    link_code[shown] = link_pos.reindex(link[shown]).to_numpy()
    chosen = base.links.pairs.iloc[used_links] if len(used_links) else base.links.pairs.iloc[0:0]
    link_a = np.full(len(used_links), -1, dtype=np.int64)
    link_b = np.full(len(used_links), -1, dtype=np.int64)
    if len(used_links):
        first = pd.DataFrame({"link": link[shown], "a": left_rec[shown], "b": right_rec[shown]}).drop_duplicates("link")
        first = first.set_index("link").reindex(used_links)
        link_a = rec_pos.reindex(first["a"].to_numpy()).to_numpy()
        link_b = rec_pos.reindex(first["b"].to_numpy()).to_numpy()

    return _encode_page(base, scope, title, e, sub, page_rec, lines, joined, link_code, chosen, link_a, link_b)


def _record_of(involved: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """The ``record`` of involved-table rows (-1 stays -1)."""
    out = np.full(len(rows), -1, dtype=np.int64)
    ok = rows >= 0
    out[ok] = involved["record"].to_numpy()[rows[ok]]
    return out


def _own_subdistrict(lines: pd.DataFrame, page_rec: pd.DataFrame, n: int, agency: str | None) -> np.ndarray:
    """Per entry: the most frequent subdistrict among its own records (ties to the first code);
    the viewer's code when the viewer is a subdistrict without a record in the entry; else unknown."""
    sub = page_rec["subdistrict"].to_numpy(dtype=object)[lines["record"].to_numpy()]
    own = page_rec["own"].to_numpy(dtype=bool)[lines["record"].to_numpy()]
    df = pd.DataFrame({"entry": lines["entry"].to_numpy(), "sub": sub})[own & pd.notna(sub)]
    counts = df.groupby(["entry", "sub"], sort=False).size().rename("n").reset_index()
    counts = counts.sort_values(["entry", "n", "sub"], ascending=[True, False, True], kind="mergesort")
    top = counts.drop_duplicates("entry").set_index("entry")["sub"]
    fallback = agency if agency is not None and agency.startswith("jd-") else UNKNOWN_SUBDISTRICT
    return top.reindex(np.arange(n)).fillna(fallback).to_numpy(dtype=object)


def _encode_page(base: ExplorerBase, scope: Scope, title: str, e: pd.DataFrame, sub: np.ndarray,
                 rec: pd.DataFrame, lines: pd.DataFrame, joined: np.ndarray, link_code: np.ndarray,
                 chosen: pd.DataFrame, link_a: np.ndarray, link_b: np.ndarray) -> dict[str, Any]:
    data = base.data
    catalog = data.catalog
    rule_ids = data.rule_ids()
    agencies = [a.code for a in catalog.agencies]
    agency_order = {c: i for i, c in enumerate(agencies)}
    programs = [p.code for p in catalog.programs]
    seen_programs = {p for ps in e["programs"] for p in ps} | {p for ps in e["missed_programs"] for p in ps}
    extra = sorted((seen_programs | set(rec["program"].dropna())) - set(programs))
    programs += extra
    prog_index = {c: i for i, c in enumerate(programs)}
    subs = [a.code for a in catalog.agencies if a.kind == "subdistrict"]
    subs += sorted({s for s in sub if isinstance(s, str)} - set(subs) - {UNKNOWN_SUBDISTRICT})
    subs.append(UNKNOWN_SUBDISTRICT)

    def program_sets(column: pd.Series) -> tuple[list[int], list[list[int]]]:
        keys = [",".join(str(prog_index[p]) for p in ps) for ps in column]
        codes, vocab = _codes(keys)
        return codes, [[int(x) for x in k.split(",")] if k else [] for k in vocab]

    prog_codes, prog_sets = program_sets(e["programs"])
    miss_codes, miss_sets = program_sets(e["missed_programs"])
    miss_codes = [c if c >= 0 else -1 for c in miss_codes]

    # explanations: the text without its policy basis (shown once per rule clause set), dictionary-encoded
    expl = pd.Series(e["explanation_zh"], dtype=object).fillna("")
    parts = expl.str.split(_BASIS, n=1, regex=False)
    text = parts.str[0].fillna("") + np.where(parts.str.len() > 1, "。", "")
    basis = parts.str[1].fillna("")
    basis_codes, basis_vocab = _codes(basis)
    names_codes, names_vocab = _codes(pd.concat([pd.Series(e["name"], dtype=object), rec["name"]], ignore_index=True))
    ids_codes, ids_vocab = _codes(pd.concat([pd.Series(e["id"], dtype=object), rec["id"]], ignore_index=True))
    n = len(e)
    file_codes, file_vocab = _codes(rec["file"])

    # persons: one row per person the page names, with the search hashes
    persons = pd.DataFrame({"person_id": e["person_id"], "name": names_codes[:n], "id": ids_codes[:n],
                            "name_plain": e["name_plain"], "id_plain": e["id_plain"]})
    persons = persons.assign(_k=persons["person_id"].fillna("")).drop_duplicates("_k").reset_index(drop=True)
    person_of = pd.Series(np.arange(len(persons)), index=persons["_k"].to_numpy())
    key = lookup.page_key(base.search_key, scope.agency)

    ids = e["flag_id"].astype(str).tolist()
    compact = all(_FLAG_ID.match(i) for i in ids)
    lengths = lines.groupby("entry").size().reindex(np.arange(n), fill_value=0).to_numpy()
    recs = lines["record"].to_numpy(dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n else np.zeros(0, dtype=np.int64)
    deltas = recs.copy()
    if len(recs):
        deltas[1:] = recs[1:] - recs[:-1]
        first = starts[lengths > 0]
        deltas[first] = recs[first]  # each entry's first record absolute, then differences

    comparisons = base.links.comparisons
    out: dict[str, Any] = {
        "v": PAYLOAD_VERSION,
        "title": title,
        "scope": scope.agency,
        "year": data.audit_year,
        "key": key.hex(),
        "dots": lookup.DOTS,
        "dict": {
            "rule": [[r, data.rule_title(r), (data.rules[r].category if r in data.rules else ""),
                      (data.rules[r].basis if r in data.rules else "")] for r in rule_ids],
            "status": list(STATUSES), "decision": list(DECISIONS), "note": list(NOTES),
            "agency": [[a.code, a.name, a.kind] for a in catalog.agencies],
            "program": [[p, data.program_name(p)] for p in programs],
            "sub": [[s, data.agency_name(s) if s != UNKNOWN_SUBDISTRICT else s] for s in subs],
            "progset": prog_sets, "missset": miss_sets,
            "file": file_vocab, "name": names_vocab, "id": ids_vocab, "basis": basis_vocab,
            "joined": list(JOINED),
            "comparison": [[c.name, COMPARISON_ZH.get(c.name, c.name), [LEVEL_ZH.get(l, l) for l in c.levels]]
                           for c in comparisons],
        },
        "flags": {
            "id": "".join(i[1:] for i in ids) if compact else ids,
            "rule": _codes(e["rule_id"], rule_ids)[0],
            "status": _codes(e["status"], list(STATUSES))[0],
            "decision": [max(c, 0) for c in _codes(e["decision"], list(DECISIONS))[0]],
            "note": [max(c, 0) for c in _codes(e["decision_note"], list(NOTES))[0]],
            "ag": _bits(e["agencies"].to_numpy(), agency_order),
            "gr": _bits(e["grantors"].to_numpy(), agency_order),
            "sub": _codes(pd.Series(sub, dtype=object), subs)[0],
            "person": person_of.reindex(pd.Series(e["person_id"], dtype=object).fillna("").to_numpy()).astype(int).tolist(),
            "p0": _nums(e["p0"]), "p1": _nums(e["p1"]),
            "amt": _nums(e["amount_at_stake"], 100.0),
            "conf": _nums(e["link_confidence"], 1000.0),
            "prog": prog_codes, "miss": miss_codes,
            "text": text.tolist(), "basis": basis_codes,
            "full": [bool(x) for x in e["full_detail"]],
            "n": lengths.tolist(), "rec": deltas.tolist(),
            "joined": _codes(pd.Series(joined, dtype=object), list(JOINED))[0],
            "link": link_code.tolist(),
        },
        "persons": {
            "name": persons["name"].tolist(), "id": persons["id"].tolist(),
            "hid": [lookup.id_hash(v, key) for v in persons["id_plain"]],
            "hname": [lookup.name_hash(v, key) for v in persons["name_plain"]],
        },
        "records": {
            "file": file_codes, "row": _nums(rec["row"].to_numpy(dtype=float)),
            "ag": _codes(rec["agency"], agencies)[0], "prog": _codes(rec["program"], programs)[0],
            "p0": _nums(rec["period_start"].to_numpy(dtype=float)), "p1": _nums(rec["period_end"].to_numpy(dtype=float)),
            "amt": _nums(rec["amount"].to_numpy(dtype=float), 100.0),
            "sub": _codes(rec["subdistrict"], subs)[0],
            "name": names_codes[n:], "id": ids_codes[n:],
            "own": [bool(x) for x in rec["own"]],
        },
        "links": {
            "a": link_a.tolist(), "b": link_b.tolist(),
            "prior": _nums(chosen["prior"].to_numpy(dtype=float), 100.0) if len(chosen) else [],
            "mw": _nums(chosen["match_weight"].to_numpy(dtype=float), 100.0) if len(chosen) else [],
            "prob": _nums(chosen["probability"].to_numpy(dtype=float), 10000.0) if len(chosen) else [],
            "lv": [[_level_code(v, c) for v in chosen[f"level_{c.name}"]] if f"level_{c.name}" in chosen else []
                   for c in comparisons],
            "w": [_nums(chosen[f"w_{c.name}"].to_numpy(dtype=float), 100.0) if f"w_{c.name}" in chosen else []
                  for c in comparisons],
        },
    }
    return out


def _level_code(value: object, comparison) -> int:
    try:
        return comparison.levels.index(str(value))
    except ValueError:
        return -1


def encode(payload_: dict[str, Any]) -> str:
    """The payload as the page embeds it: compact JSON, gzip level 6 (no name, no time: the same
    bytes for the same payload; level 9 took several times longer for a few percent), base64."""
    raw = json.dumps(payload_, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def decode(text: str) -> dict[str, Any]:
    """The payload embedded in a page's HTML (or its base64 text): for tests and other tools."""
    match = re.search(r'<script id="rl-data" type="application/octet-stream">([^<]*)</script>', text)
    b64 = match.group(1) if match else text
    return json.loads(gzip.decompress(base64.b64decode(b64)).decode("utf-8"))


def flag_ids(payload_: dict[str, Any]) -> list[str]:
    """The flag ids of a decoded payload, in its order (stored as their 16 hex digits, concatenated,
    when every id is ``F`` + 16 hex digits)."""
    ids = payload_["flags"]["id"]
    return ["F" + ids[i:i + 16] for i in range(0, len(ids), 16)] if isinstance(ids, str) else list(ids)


__all__ = ["ExplorerBase", "PAYLOAD_VERSION", "decode", "encode", "flag_ids", "payload", "prepare"]
