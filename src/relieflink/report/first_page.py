"""The explorer's first page, embedded apart so that the page shows it at once.

At 1M rows a page's explorer data is tens of megabytes of JSON once inflated; the
browser takes seconds to inflate and parse it. The rows an auditor sees first do
not need it: :func:`first_page` cuts from a page's payload
(:func:`relieflink.report.explorer.payload`) the entries of its first page in the
explorer's default order (:func:`default_order`, the order ``explorer.js`` sorts
by before any click) with only the records, persons, links and dictionary entries
they use — the same schema, so the script draws it with the same code — and
:func:`embed` writes it as plain JSON into its own ``<script>`` element. The
script draws that first, lets the browser paint, then inflates the whole payload
and redraws (the same rows: a test compares them) with search, filters and
sorting.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

#: rows per explorer page (``PAGE`` in templates/explorer.js)
PAGE = 50


def default_order(payload_: dict[str, Any]) -> np.ndarray:
    """Entry positions in the explorer's default order: status then decision (findings,
    review items, identity questions; undecided, confirmed, dismissed), then the larger
    amount first (none last), then the page's order — as ``sortView`` in explorer.js."""
    f = payload_["flags"]
    n = len(f["rule"])
    key = np.asarray(f["status"], dtype=np.int64) * 4 + np.asarray(f["decision"], dtype=np.int64)
    amt = np.array([np.nan if a is None else float(a) for a in f["amt"]], dtype=float)
    missing = np.isnan(amt)
    return np.lexsort((np.arange(n), -np.where(missing, 0.0, amt), missing, key)) if n else np.zeros(0, dtype=np.int64)


def _remap(codes: list[int], vocabulary: list) -> tuple[list[int], list]:
    """Codes into a smaller vocabulary of the values used (-1 stays -1), order kept."""
    c = np.asarray(codes, dtype=np.int64)
    used = np.unique(c[c >= 0])
    new = np.full(len(vocabulary) + 1, -1, dtype=np.int64)  # index -1: the last slot, -1
    new[used] = np.arange(len(used))
    return new[c].tolist() if len(c) else [], [vocabulary[i] for i in used.tolist()]


def first_page(payload_: dict[str, Any], n: int = PAGE) -> dict[str, Any]:
    """The payload of the first ``n`` entries in :func:`default_order`, in that order, with
    ``total``: the number of entries of the whole payload."""
    f, rec, per, links, d = (payload_[k] for k in ("flags", "records", "persons", "links", "dict"))
    total = len(f["rule"])
    take = default_order(payload_)[:n]
    lengths = np.asarray(f["n"], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)]) if total else np.zeros(1, dtype=np.int64)
    deltas = np.asarray(f["rec"], dtype=np.int64)
    # each taken entry's records, absolute (the payload stores differences within an entry)
    absolute = [np.cumsum(deltas[starts[i]:starts[i + 1]]) for i in take.tolist()]
    used_rec = np.unique(np.concatenate(absolute)) if absolute and sum(len(a) for a in absolute) else np.zeros(0, np.int64)
    rec_new = {int(r): k for k, r in enumerate(used_rec.tolist())}
    rec_deltas: list[int] = []
    for a in absolute:
        mapped = np.array([rec_new[int(r)] for r in a], dtype=np.int64)
        if len(mapped):
            rec_deltas += [int(mapped[0])] + np.diff(mapped).tolist()

    persons = np.asarray(f["person"], dtype=np.int64)[take]
    used_per = np.unique(persons[persons >= 0])
    per_new = np.full(len(per["name"]) + 1, -1, dtype=np.int64)
    per_new[used_per] = np.arange(len(used_per))
    link = np.asarray(f["link"], dtype=np.int64)[take]
    used_link = np.unique(link[link >= 0])
    link_new = np.full(len(links["a"]) + 1, -1, dtype=np.int64)
    link_new[used_link] = np.arange(len(used_link))

    def pick(values: list, rows: np.ndarray) -> list:
        return [values[i] for i in rows.tolist()]

    flags = {k: pick(v, take) for k, v in f.items() if k not in ("id", "rec", "person", "link")}
    ids = f["id"]
    flags["id"] = "".join(ids[16 * i:16 * i + 16] for i in take.tolist()) if isinstance(ids, str) else pick(ids, take)
    flags["rec"] = rec_deltas
    flags["person"] = per_new[persons].tolist()
    flags["link"] = link_new[link].tolist()
    records = {k: pick(v, used_rec) for k, v in rec.items()}
    people = {k: pick(v, used_per) for k, v in per.items()}
    rec_of = np.full(len(rec["file"]) + 1, -1, dtype=np.int64)
    rec_of[used_rec] = np.arange(len(used_rec))
    chosen = {k: pick(links[k], used_link) for k in ("prior", "mw", "prob")}
    chosen["a"] = rec_of[np.asarray(pick(links["a"], used_link), dtype=np.int64)].tolist()
    chosen["b"] = rec_of[np.asarray(pick(links["b"], used_link), dtype=np.int64)].tolist()
    chosen["lv"] = [pick(v, used_link) if len(v) else [] for v in links["lv"]]
    chosen["w"] = [pick(v, used_link) if len(v) else [] for v in links["w"]]

    vocab = dict(d)
    flags["basis"], vocab["basis"] = _remap(flags["basis"], d["basis"])
    records["file"], vocab["file"] = _remap(records["file"], d["file"])
    names, vocab["name"] = _remap(people["name"] + records["name"], d["name"])
    people["name"], records["name"] = names[:len(used_per)], names[len(used_per):]
    idents, vocab["id"] = _remap(people["id"] + records["id"], d["id"])
    people["id"], records["id"] = idents[:len(used_per)], idents[len(used_per):]
    out = {k: v for k, v in payload_.items() if k not in ("flags", "records", "persons", "links", "dict")}
    out.update({"flags": flags, "records": records, "persons": people, "links": chosen, "dict": vocab, "total": total})
    return out


def embed(payload_: dict[str, Any]) -> str:
    """The first page as the page embeds it: compact JSON that is safe inside a ``<script>``
    element (``<``, ``>`` and ``&`` escaped as JSON escapes: the text cannot close it)."""
    text = json.dumps(first_page(payload_), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


__all__ = ["PAGE", "default_order", "embed", "first_page"]
