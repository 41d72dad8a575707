"""``flags.parquet``: the flags table with typed columns (records as a list of structs).

Each involved record is ``{file, row, amount_at_stake}``: where it is and the money
the flag puts at stake on it (0 for a record cited without money at stake, null for
a missed benefit); the flag's ``amount_at_stake`` is their sum. ``evidence`` is a
fingerprint of the records' content; ``decision_note`` says when a decided flag's
evidence changed since the decision (see :mod:`relieflink.review.apply`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# ``decision_note`` of a decided flag whose records changed since the decision, and its words in reports
EVIDENCE_CHANGED = "decided; evidence changed since"
EVIDENCE_CHANGED_ZH = "已复核；此后证据有变化"

FLAGS_SCHEMA = pa.schema(
    [
        pa.field("flag_id", pa.string()),
        pa.field("rule_id", pa.string()),
        pa.field("category", pa.string()),
        pa.field("status", pa.string()),
        pa.field("person_id", pa.string()),
        pa.field("household_id", pa.string()),
        pa.field("records", pa.list_(pa.struct([pa.field("file", pa.string()), pa.field("row", pa.int32()),
                                                  pa.field("amount_at_stake", pa.float64())]))),
        pa.field("programs", pa.list_(pa.string())),
        pa.field("missed_programs", pa.list_(pa.string())),
        pa.field("period_start", pa.date32()),
        pa.field("period_end", pa.date32()),
        pa.field("amount_at_stake", pa.float64()),
        pa.field("link_confidence", pa.float64()),
        pa.field("evidence", pa.string()),
        pa.field("explanation_zh", pa.string()),
        pa.field("explanation_en", pa.string()),
        # the same without amounts and record counts: what an agency reads when another agency's
        # records are involved (relieflink.visibility)
        pa.field("explanation_scoped_zh", pa.string()),
        pa.field("explanation_scoped_en", pa.string()),
        pa.field("decision", pa.string()),
        pa.field("decided_by", pa.string()),
        pa.field("decision_reason", pa.string()),
        pa.field("decision_note", pa.string()),
    ]
)


def flags_to_arrow(flags: pd.DataFrame) -> pa.Table:
    data = {}
    for field in FLAGS_SCHEMA:
        col = flags[field.name] if field.name in flags else pd.Series([None] * len(flags))
        if pa.types.is_date32(field.type):
            col = pd.to_datetime(col).dt.date
        elif field.type == pa.string():
            col = col.astype(object).where(col.notna(), None)
        data[field.name] = pa.array(col.tolist() if not pa.types.is_floating(field.type) else col, type=field.type, from_pandas=True)
    return pa.Table.from_pydict(data, schema=FLAGS_SCHEMA)


def write_flags(flags: pd.DataFrame, path: Path) -> Path:
    pq.write_table(flags_to_arrow(flags), path, compression="zstd")
    return path
