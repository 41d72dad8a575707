"""The screening index on disk: plain ``.npy`` arrays under ``OUT/screening/``.

One file per array (``numpy.save``: a fixed header and the raw bytes, so the
same index gives the same bytes), read back whole (a memory-mapped array pays a
page fault per query on a cold page; the whole index of a 1M-row run is a few
hundred MB and reads in about a second). Text is stored as fixed-width unicode (never pickled); a column that
may be missing stores the empty string for it plus a ``<name>.none`` mask.
``index.json`` names the format and every array, so that a folder written by
another version is rebuilt rather than misread.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FORMAT = "relieflink-screening-index/2"
DIRECTORY = "screening"


def write_arrays(folder: Path, arrays: dict[str, np.ndarray], meta: dict[str, object]) -> None:
    """Write ``arrays`` (numeric, bool or object-of-str-or-None) and ``index.json`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for name in sorted(arrays):
        value = np.asarray(arrays[name])
        if value.dtype == object:
            none = np.array([v is None for v in value.tolist()], dtype=bool)
            text = np.array(["" if v is None else str(v) for v in value.tolist()], dtype=str)
            if len(text) == 0:
                text = np.zeros(0, dtype="<U1")
            np.save(folder / f"{name}.npy", text, allow_pickle=False)
            if none.any():
                np.save(folder / f"{name}.none.npy", none, allow_pickle=False)
        else:
            np.save(folder / f"{name}.npy", value, allow_pickle=False)
        names.append(name)
    (folder / "index.json").write_text(json.dumps({"format": FORMAT, "arrays": names, **meta}, indent=1, sort_keys=True),
                                       encoding="utf-8")


def read_arrays(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, object]] | None:
    """The arrays and metadata of an index folder; None when absent or of another format."""
    manifest = folder / "index.json"
    if not manifest.exists():
        return None
    meta = json.loads(manifest.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        return None
    out: dict[str, np.ndarray] = {}
    for name in meta["arrays"]:
        value = np.load(folder / f"{name}.npy", allow_pickle=False)  # read whole: no page faults per query
        if value.dtype.kind == "U":
            obj = np.asarray(value).astype(object)
            mask_path = folder / f"{name}.none.npy"
            if mask_path.exists():
                obj[np.load(mask_path, allow_pickle=False)] = None
            value = obj
        out[name] = value
    return out, meta
