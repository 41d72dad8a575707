"""The quarantine: every problem found in the input, with file, row, column.

Rows rejected here are not in ``records``; cell problems on kept rows are
listed too (``value_dropped`` / ``noted``). Messages say what is wrong and
what to do, and never hold personal data: the raw value has its own column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

COLUMNS = ["file", "row", "column", "problem", "message", "action", "raw_value"]

# Actions, from the worst to the mildest.
FILE_REJECTED = "file_rejected"
ROW_REJECTED = "row_rejected"
DUPLICATE_DELIVERY = "duplicate_delivery"
VALUE_DROPPED = "value_dropped"
NOTED = "noted"


@dataclass
class Quarantine:
    """Collects problems as small frames and concatenates them once."""

    parts: list[pd.DataFrame] = field(default_factory=list)

    def add(
        self,
        file: str,
        rows: np.ndarray | list[int] | None,
        column: str | None,
        problem: str,
        message: str | pd.Series | np.ndarray,
        action: str,
        raw_values: pd.Series | list[str] | None = None,
    ) -> None:
        """Add one problem for each row in ``rows`` (None: the whole file)."""
        if rows is None:
            row_values = pd.array([pd.NA], dtype="Int32")
        else:
            row_values = pd.array(np.asarray(rows, dtype=np.int32), dtype="Int32")
        n = len(row_values)
        if n == 0:
            return
        if raw_values is None:
            raw = pd.Series([None] * n, dtype=object)
        else:
            raw = pd.Series(list(raw_values) if not isinstance(raw_values, pd.Series) else raw_values.to_numpy(), dtype=object)
            raw = raw.map(_raw_text)
        self.parts.append(
            pd.DataFrame(
                {
                    "file": file,
                    "row": row_values,
                    "column": column,
                    "problem": problem,
                    "message": message if isinstance(message, str) else np.asarray(message, dtype=object),
                    "action": action,
                    "raw_value": raw.to_numpy(),
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="Int32" if c == "row" else object) for c in COLUMNS})
        out = pd.concat(self.parts, ignore_index=True)
        out["row"] = out["row"].astype("Int32")
        return out[COLUMNS]


def _raw_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
