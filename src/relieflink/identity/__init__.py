"""Identity normalizers: resident IDs, names, phones, places (SPEC §3).

All normalizers are vectorized over a pandas Series of raw cells and return
objects aligned on its index; see each module's documentation.
"""

from relieflink.identity.names import normalize_names, pinyin_initials, split_name
from relieflink.identity.phones import normalize_phones
from relieflink.identity.places import Gazetteer, Subdistrict, normalize_addresses
from relieflink.identity.resident_id import (
    ID_STATUSES,
    VALID_STATUSES,
    check_char,
    is_valid_id,
    normalize_ids,
    upgrade_15,
)

__all__ = [
    "ID_STATUSES",
    "VALID_STATUSES",
    "Gazetteer",
    "Subdistrict",
    "check_char",
    "is_valid_id",
    "normalize_addresses",
    "normalize_ids",
    "normalize_names",
    "normalize_phones",
    "pinyin_initials",
    "split_name",
    "upgrade_15",
]
