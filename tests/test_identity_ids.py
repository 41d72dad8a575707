"""Resident IDs (GB 11643), disability certificate and student numbers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from relieflink.identity import check_char, is_valid_id, normalize_ids, upgrade_15
from relieflink.identity.resident_id import MAX_YEAR, MIN_YEAR

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


# ----------------------------------------------------------------- strategies


@st.composite
def id_prefixes(draw, min_date=dt.date(MIN_YEAR, 1, 1), max_date=dt.date(MAX_YEAR, 12, 31), regions=None):
    region = draw(st.sampled_from(regions)) if regions else f"{draw(st.integers(100000, 899999)):06d}"
    born = draw(st.dates(min_value=min_date, max_value=max_date))
    seq = draw(st.integers(0, 999))
    return f"{region}{born:%Y%m%d}{seq:03d}"


@st.composite
def valid_ids(draw, **kw):
    p = draw(id_prefixes(**kw))
    return p + check_char(p)


def _one(value, kind="resident"):
    return normalize_ids(pd.Series([value], dtype=object), kind=kind).iloc[0]


# ----------------------------------------------------------------- check character


def test_check_char_known_examples():
    assert check_char("33010519861120031") == "X"
    assert check_char("11010519491231002") == "X"  # the GB 11643 example
    assert is_valid_id("11010519491231002X")
    assert is_valid_id("360426199101010071")  # python-stdnum's doctest
    with pytest.raises(ValueError):
        check_char("3301051986112003")
    with pytest.raises(ValueError):
        check_char("3301051986112003A")


@SETTINGS
@given(id_prefixes())
def test_check_char_makes_a_valid_id(prefix):
    assert is_valid_id(prefix + check_char(prefix))


@SETTINGS
@given(valid_ids(), st.data())
def test_any_single_substitution_fails(s, data):
    i = data.draw(st.integers(0, 17))
    alphabet = "0123456789X" if i == 17 else "0123456789"
    c = data.draw(st.sampled_from(alphabet))
    assume(c != s[i])
    mutated = s[:i] + c + s[i + 1 :]
    assert not is_valid_id(mutated)
    assert _one(mutated)["id_status"] != "valid"
    assert pd.isna(_one(mutated)["id_number"])


@SETTINGS
@given(valid_ids(), st.integers(0, 16))
def test_any_adjacent_transposition_fails(s, i):
    assume(s[i] != s[i + 1])
    mutated = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    assert not is_valid_id(mutated)


@SETTINGS
@given(valid_ids(min_date=dt.date(1900, 1, 1), max_date=dt.date(1999, 12, 31)))
def test_15_to_18_round_trip(s):
    legacy = s[:6] + s[8:17]
    assert len(legacy) == 15
    assert upgrade_15(legacy) == s
    row = _one(legacy)
    assert row["id_status"] == "upgraded_15"
    assert row["id_number"] == s
    assert row["id_clean"] == legacy


def test_upgrade_15_rejects_non_digits():
    with pytest.raises(ValueError):
        upgrade_15("33060231052767X")


@SETTINGS
@given(valid_ids())
def test_vectorized_fields_match_the_id(s):
    row = _one(s)
    assert row["id_status"] == "valid"
    assert row["id_number"] == s
    assert row["id_birth_date"] == pd.Timestamp(dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14])))
    assert row["id_sex"] == ("M" if int(s[16]) % 2 else "F")
    assert row["id_region"] == s[:6]


@SETTINGS
@given(st.lists(st.text(alphabet="0123456789X", min_size=18, max_size=18), min_size=1, max_size=30))
def test_vectorized_validity_equals_scalar(values):
    out = normalize_ids(pd.Series(values, dtype=object))
    assert (out["id_status"] == "valid").tolist() == [is_valid_id(v) for v in values]


# ----------------------------------------------------------------- cleaning, idempotence, never inventing


@st.composite
def messy_ids(draw):
    s = draw(valid_ids())
    if draw(st.booleans()):
        s = s.replace("X", "x")
    if draw(st.booleans()):
        s = s.translate(FULLWIDTH)
    if draw(st.booleans()):
        sep = draw(st.sampled_from([" ", "-", "\u3000", "－", "\u200b"]))
        s = s[:6] + sep + s[6:14] + sep + s[14:]
    if draw(st.booleans()):
        s = "  " + s + " "
    return s


@SETTINGS
@given(messy_ids())
def test_messy_spellings_normalize_to_the_valid_id(s):
    row = _one(s)
    assert row["id_status"] == "valid"
    assert row["id_number"] == row["id_clean"]
    assert row["id_number"] == ric.compact(
        s.translate(str.maketrans("０１２３４５６７８９Ｘｘ－\u3000", "0123456789Xx- ")).replace(" ", "").replace("-", "").replace("\u200b", "")
    )


@SETTINGS
@given(st.lists(st.one_of(messy_ids(), st.text(max_size=25), st.floats(allow_nan=True), st.integers(0, 10**18)), max_size=20))
def test_cleaning_is_idempotent_and_never_invents_an_id(values):
    once = normalize_ids(pd.Series(values, dtype=object))
    twice = normalize_ids(once["id_clean"])
    assert twice["id_clean"].fillna("\0").tolist() == once["id_clean"].fillna("\0").tolist()
    again = normalize_ids(once["id_number"])
    assert again["id_number"].fillna("\0").tolist() == once["id_number"].fillna("\0").tolist()
    for _, row in once.iterrows():
        if pd.notna(row["id_number"]):
            assert row["id_status"] in ("valid", "upgraded_15")
            assert is_valid_id(row["id_number"])
            clean = row["id_clean"]
            assert clean == row["id_number"] or (len(clean) == 15 and upgrade_15(clean) == row["id_number"])
        else:
            assert row["id_status"] not in ("valid", "upgraded_15")


@SETTINGS
@given(valid_ids())
def test_an_18_digit_id_stored_as_a_float_is_damaged(s):
    assume(not s.endswith("X"))
    x = float(int(s))
    row = _one(x)
    assert row["id_status"] == "excel_damaged"
    assert pd.isna(row["id_number"])
    assert row["id_clean"] == f"{x:.14e}".split("e")[0].replace(".", "")
    assert len(row["id_clean"]) == 15


# ----------------------------------------------------------------- differential test against python-stdnum

# Region codes that python-stdnum's county table accepts for any birth year.
TIMELESS_REGIONS = ["110101", "110102", "120101", "310101", "330122", "653101"]


def _stdnum_valid(s: str) -> bool:
    try:
        return ric.is_valid(s)
    except KeyError:
        # python-stdnum raises KeyError (instead of InvalidComponent) from its
        # birth-place check for a region code its table knows only at province
        # or prefecture level (e.g. 110001): its answer is "not valid".
        return False


def _stdnum_place_fails(n: str) -> bool:
    try:
        ric.get_birth_place(n)
    except (ValidationError, KeyError):
        return True
    return False


def _ours(s: str) -> bool:
    """Our validity of what stdnum's compact() makes of the string (it strips and upper-cases)."""
    try:
        compact = ric.compact(s)
    except ValidationError:
        return False
    return is_valid_id(compact)


def _explain_difference(s: str, ours: bool, theirs: bool) -> None:
    """Assert that a disagreement is one of the documented ones."""
    n = ric.compact(s)
    if ours and not theirs:
        # stdnum also checks the region code against its county history table
        # (with years): we deliberately don't (SPEC §3: old codes stay valid,
        # and a code records where the ID was first issued).
        assert _stdnum_place_fails(n), n
    else:
        # we are stricter on the birth year (1900–2030) and the region's first digit (1–8)
        year = int(n[6:10])
        assert not (MIN_YEAR <= year <= MAX_YEAR) or n[0] not in "12345678", n


mutations = st.sampled_from(["substitute", "transpose", "lower", "strip", "truncate", "none"])


@st.composite
def differential_inputs(draw):
    kind = draw(st.sampled_from(["valid", "valid_any_region", "mutated", "random", "wide_dates"]))
    if kind == "valid":
        return draw(valid_ids(regions=TIMELESS_REGIONS))
    if kind == "valid_any_region":
        return draw(valid_ids())
    if kind == "wide_dates":  # birth years outside our range
        return draw(valid_ids(min_date=dt.date(1000, 1, 1), max_date=dt.date(2999, 12, 31), regions=TIMELESS_REGIONS))
    if kind == "random":
        return draw(st.text(alphabet="0123456789Xx ", min_size=0, max_size=20))
    s = draw(valid_ids(regions=TIMELESS_REGIONS))
    how = draw(mutations)
    i = draw(st.integers(0, 16))
    if how == "substitute":
        s = s[:i] + draw(st.sampled_from("0123456789")) + s[i + 1 :]
    elif how == "transpose":
        s = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    elif how == "lower":
        s = s.lower()
    elif how == "strip":
        s = " " + s + "  "
    elif how == "truncate":
        s = s[:i]
    return s


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(differential_inputs())
def test_differential_against_python_stdnum(s):
    ours, theirs = _ours(s), _stdnum_valid(s)
    if ours != theirs:
        _explain_difference(s, ours, theirs)
    # the vectorized path agrees with the scalar one on stdnum's compact form
    compact = ric.compact(s)
    assert (_one(compact)["id_status"] == "valid") == is_valid_id(compact)


def test_differential_documented_examples():
    born_1930 = "330105193009305044"  # a real sample ID: 拱墅 (created 1983), born 1930
    assert is_valid_id(born_1930) and not ric.is_valid(born_1930)
    p = "11010118991231001"
    old = p + check_char(p)
    assert ric.is_valid(old) and not is_valid_id(old)  # born 1899: outside our range


# ----------------------------------------------------------------- the real quirks (SPEC §2)


@pytest.mark.parametrize(
    "raw, status, number, clean",
    [
        ("33010519861120031x", "valid", "33010519861120031X", "33010519861120031X"),
        ("３３０１０５１９９６０３０９０９４４", "valid", "330105199603090944", "330105199603090944"),
        ("331102 19620315 6092", "valid", "331102196203156092", "331102196203156092"),
        ("320102-19471220-2091", "valid", "320102194712202091", "320102194712202091"),
        ("3.30105E+17", "excel_damaged", None, "330105"),
        ("3.30105e+17", "excel_damaged", None, "330105"),
        (3.3062119800808e17, "excel_damaged", None, "330621198008080"),
        (3.70102197307145e17, "excel_damaged", None, "370102197307145"),
        ("330621198008080000", "excel_damaged", None, "330621198008080"),
        ("330602310527679", "upgraded_15", "330602193105276798", "330602310527679"),
        (330602310527679.0, "upgraded_15", "330602193105276798", "330602310527679"),
        ("330602310527679.0", "upgraded_15", "330602193105276798", "330602310527679"),
        (330105198511183372, "valid", "330105198511183372", "330105198511183372"),  # an exact int (JSON)
        ("330105198511183371", "check_failed", None, "330105198511183371"),
        ("330105196040198482", "bad_date", None, "330105196040198482"),  # 04↔40 transposed: month 40
        ("330102500211245877", "bad_date", None, "330102500211245877"),
        ("33010519851118337", "malformed", None, "33010519851118337"),
        ("abc", "malformed", None, "ABC"),
        ("930105198511183372", "malformed", None, "930105198511183372"),
        ("", "missing", None, None),
        ("   ", "missing", None, None),
        (None, "missing", None, None),
        (float("nan"), "missing", None, None),
    ],
)
def test_real_quirks(raw, status, number, clean):
    row = _one(raw)
    assert row["id_status"] == status
    assert (pd.isna(row["id_number"]) and number is None) or row["id_number"] == number
    assert (pd.isna(row["id_clean"]) and clean is None) or row["id_clean"] == clean


def test_birth_date_sex_region_of_an_x_id():
    row = _one("33010519861120031x")
    assert row["id_birth_date"] == pd.Timestamp("1986-11-20")
    assert row["id_sex"] == "M"
    assert row["id_region"] == "330105"


def test_disability_certificate_numbers():
    raw = pd.Series(
        ["33010519880314771X53", "33010519880314771x53", "３３０１０５１９７９０３０２５０２９63", "330105194307123227",
         "33010199960129751722", "33010519880314771X93", "3301051943071232274", None],
        dtype=object,
    )
    out = normalize_ids(raw, kind="disability_cert")
    assert out["id_number"].iloc[0] == "33010519880314771X"
    assert out["id_status"].iloc[0] == "valid"
    assert (out["cert_category"].iloc[0], out["cert_level"].iloc[0]) == (5, 3)
    assert out["id_number"].iloc[1] == "33010519880314771X"
    assert out["id_number"].iloc[2] == "330105197903025029"
    assert (out["cert_category"].iloc[2], out["cert_level"].iloc[2]) == (6, 3)
    # a bare ID in a certificate column: the ID, no category or level
    assert out["id_number"].iloc[3] == "330105194307123227"
    assert pd.isna(out["cert_category"].iloc[3])
    # a certificate whose ID part has an impossible date: evidence kept, category still read
    assert out["id_status"].iloc[4] == "bad_date"
    assert out["id_clean"].iloc[4] == "330101999601297517"
    assert out["cert_category"].iloc[4] == 2
    # category 9 does not exist
    assert out["id_status"].iloc[5] == "valid" and pd.isna(out["cert_category"].iloc[5])
    assert out["cert_level"].iloc[5] == 3
    assert out["id_status"].iloc[6] == "malformed"
    assert out["id_status"].iloc[7] == "missing"
    assert str(out["cert_category"].dtype) == "Int64"


def test_student_numbers():
    out = normalize_ids(
        pd.Series(["G330103200905099576", "g33010520090710188X", "330105200701088376", "G123"], dtype=object),
        kind="student_no",
    )
    assert out["id_number"].tolist()[:3] == ["330103200905099576", "33010520090710188X", "330105200701088376"]
    assert out["id_status"].tolist() == ["valid", "valid", "valid", "malformed"]


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError):
        normalize_ids(pd.Series(["x"]), kind="passport")


def test_output_aligned_on_index_and_typed():
    raw = pd.Series(["33010519861120031x", None, 3.3062119800808e17], index=[10, 5, 7], dtype=object)
    out = normalize_ids(raw)
    assert out.index.tolist() == [10, 5, 7]
    assert out["id_status"].tolist() == ["valid", "missing", "excel_damaged"]
    assert out["id_status"].dtype == "string"
    assert out["id_number"].dtype == "string"
    assert str(out["id_birth_date"].dtype) == "datetime64[ns]"


def test_arrow_backed_input_gives_the_same_result():
    values = ["33010519861120031x", None, "331102 19620315 6092", "330602310527679", "junk"]
    a = normalize_ids(pd.Series(values, dtype=object))
    b = normalize_ids(pd.Series(values, dtype="string[pyarrow]"))
    c = normalize_ids(pd.Series(values, dtype="string"))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def test_empty_input():
    out = normalize_ids(pd.Series([], dtype=object))
    assert len(out) == 0
    assert list(out.columns) == ["id_number", "id_clean", "id_status", "id_birth_date", "id_sex", "id_region"]


def test_repeated_values_are_consistent():
    raw = pd.Series(["33010519861120031x", "33010519861120031X"] * 500 + [3.3062119800808e17] * 3, dtype=object)
    out = normalize_ids(raw)
    assert (out["id_number"].iloc[:1000] == "33010519861120031X").all()
    assert (out["id_status"].iloc[1000:] == "excel_damaged").all()
    assert np.all(out["id_birth_date"].iloc[:1000] == pd.Timestamp("1986-11-20"))
