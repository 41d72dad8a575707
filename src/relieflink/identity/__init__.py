"""Identity normalizers: resident IDs, names, phones, places."""
from relieflink.identity.resident_id import check_char, is_valid_id, normalize_ids, upgrade_15
from relieflink.identity.phones import normalize_phones
from relieflink.identity.names import normalize_names, pinyin_initials
