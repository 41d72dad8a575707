"""Value parsers: raw cells → typed values with a mask of unparseable cells."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relieflink.ingest import values as V

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FW = str.maketrans("0123456789-./", "０１２３４５６７８９－．／")


def _one(parser, raw):
    values, bad = parser(pd.Series([raw], dtype=object))
    return values.iloc[0], bool(bad.iloc[0])


def _is_na(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v))


# ----------------------------------------------------------------- dates

D = pd.Timestamp("2015-03-05")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2015-03-05", D),
        ("2015/3/5", D),
        ("2015.3.5", D),
        ("2015年3月5日", D),
        ("2015 年 3 月 5 日", D),
        ("20150305", D),
        ("2015-03-05 00:00:00", D),
        ("2015/3/5 14:30", D),
        ("２０１５－０３－０５", D),
        (dt.date(2015, 3, 5), D),
        (dt.datetime(2015, 3, 5, 14, 30), D),
        (pd.Timestamp("2015-03-05 08:00"), D),
        (np.datetime64("2015-03-05"), D),
        (20150305.0, D),
        (42035.0, pd.Timestamp("2015-01-31")),
        (42035, pd.Timestamp("2015-01-31")),
        ("42035", pd.Timestamp("2015-01-31")),
        (42035.75, pd.Timestamp("2015-01-31")),
        ("2016-02-29", pd.Timestamp("2016-02-29")),
    ],
)
def test_dates(raw, expected):
    value, bad = _one(V.parse_dates, raw)
    assert value == expected and not bad


@pytest.mark.parametrize("raw", ["2015-02-30", "2015-13-01", "abc", "1899-12-31", "2101-01-01", "15/3/5", 1.5, 123, True, "合计"])
def test_bad_dates(raw):
    value, bad = _one(V.parse_dates, raw)
    assert _is_na(value) and bad


@pytest.mark.parametrize("raw", ["", "   ", None, float("nan"), pd.NaT, pd.NA])
def test_blank_cells_are_na_but_not_bad(raw):
    for parser in (V.parse_dates, V.parse_months, V.parse_years, V.parse_school_years, V.parse_amounts,
                   V.parse_sex, V.parse_ages, V.parse_disability_category, V.parse_disability_level, V.parse_text):
        value, bad = _one(parser, raw)
        assert _is_na(value), parser.__name__
        assert not bad, parser.__name__


@SETTINGS
@given(st.lists(st.tuples(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)),
                          st.sampled_from(["%Y-%m-%d", "{y}/{m}/{d}", "{y}.{m}.{d}", "{y}年{m}月{d}日", "%Y%m%d", "date", "serial", "fw"])),
                min_size=1, max_size=20))
def test_dates_property(cases):
    raw, expected = [], []
    for d, fmt in cases:
        if fmt == "date":
            raw.append(d)
        elif fmt == "serial":
            serial = (d - dt.date(1899, 12, 30)).days
            if not (20000 <= serial <= 80000):
                continue
            raw.append(float(serial))
        elif fmt == "fw":
            raw.append(d.strftime("%Y-%m-%d").translate(FW))
        elif "{" in fmt:
            raw.append(fmt.format(y=d.year, m=d.month, d=d.day))
        else:
            raw.append(d.strftime(fmt))
        expected.append(pd.Timestamp(d))
    values, bad = V.parse_dates(pd.Series(raw, dtype=object))
    assert values.tolist() == expected
    assert not bad.any()
    assert str(values.dtype) == "datetime64[ns]"


# ----------------------------------------------------------------- months, years, school years

M = pd.Timestamp("2015-08-01")


@pytest.mark.parametrize(
    "raw, expected",
    [("201508", M), ("2015-08", M), ("2015/8", M), ("2015年8月", M), ("2015.08", M), ("2015-8", M),
     (201508.0, M), (201508, M), (2015.08, M), (2015.12, pd.Timestamp("2015-12-01")),
     (dt.date(2015, 8, 17), M), ("2015-08-17", M), ("20150817", M)],
)
def test_months(raw, expected):
    value, bad = _one(V.parse_months, raw)
    assert value == expected and not bad


@pytest.mark.parametrize("raw", ["201513", "2015-00", "abc", 2015.1, "15-08"])
def test_bad_months(raw):
    value, bad = _one(V.parse_months, raw)
    assert _is_na(value) and bad


@pytest.mark.parametrize("raw, expected", [("2015", 2015), ("2015年", 2015), ("2015年度", 2015), (2015.0, 2015), (2015, 2015),
                                           ("２０１５", 2015), (dt.date(2014, 6, 1), 2014), ("2014-06-01", 2014)])
def test_years(raw, expected):
    value, bad = _one(V.parse_years, raw)
    assert value == expected and not bad


@pytest.mark.parametrize("raw", ["15", "abc", 2015.5, "1800"])
def test_bad_years(raw):
    value, bad = _one(V.parse_years, raw)
    assert _is_na(value) and bad


@pytest.mark.parametrize(
    "raw, expected",
    [("2015-2016", 2015), ("2015—2016", 2015), ("2015/2016", 2015), ("2015-16", 2015), ("2015学年", 2015),
     ("2015～2016学年", 2015), ("2015 - 2016 学年度", 2015), ("2015-2016学年第一学期", 2015), ("2015", 2015),
     (2015.0, 2015), ("1999-2000", 1999), ("1999-00", 1999)],
)
def test_school_years(raw, expected):
    value, bad = _one(V.parse_school_years, raw)
    assert value == expected and not bad


@pytest.mark.parametrize("raw", ["2015-2017", "2015-14", "abc", "2015-2016-2017"])
def test_bad_school_years(raw):
    value, bad = _one(V.parse_school_years, raw)
    assert _is_na(value) and bad


# ----------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    "raw, expected",
    [("1200", 1200.0), ("1,200.00", 1200.0), ("1200元", 1200.0), ("￥1200", 1200.0), ("¥1,200", 1200.0),
     ("1200.5", 1200.5), ("246,379.00", 246379.0), ("￥520", 520.0), ("5000元", 5000.0), (" 150.00 ", 150.0),
     ("RMB 1200", 1200.0), ("1.2万元", 12000.0), ("-200", -200.0), ("１２００元", 1200.0), ("1200.00元整", 1200.0),
     (1062.0, 1062.0), (150, 150.0), (1200.004, 1200.0), ("0.1", 0.1)],
)
def test_amounts(raw, expected):
    value, bad = _one(V.parse_amounts, raw)
    assert value == pytest.approx(expected) and not bad


@pytest.mark.parametrize("raw", ["abc", "1,2,3", "合计", "12元34", True, "1200.00.00"])
def test_bad_amounts(raw):
    value, bad = _one(V.parse_amounts, raw)
    assert _is_na(value) and bad


@SETTINGS
@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=20), st.sampled_from(["{:d}", "{:,d}.00", "{:d}元", "￥{:d}", "¥{:,d}", "num"]))
def test_amounts_property(cents_list, fmt):
    amounts = [c / 100 for c in cents_list]
    if fmt == "num":
        raw = amounts
    else:
        raw = [fmt.format(int(a)) for a in amounts]
        amounts = [float(int(a)) for a in amounts]
    values, bad = V.parse_amounts(pd.Series(raw, dtype=object))
    assert values.tolist() == pytest.approx(amounts)
    assert not bad.any()
    assert values.dtype == np.float64


# ----------------------------------------------------------------- sex, age, disability


@pytest.mark.parametrize("raw, expected", [("男", "M"), ("女", "F"), ("M", "M"), ("f", "F"), ("1", "M"), ("2", "F"),
                                           (1.0, "M"), (2, "F"), ("男性", "M"), ("女性", "F"), (" 女 ", "F"), ("Male", "M")])
def test_sex(raw, expected):
    value, bad = _one(V.parse_sex, raw)
    assert value == expected and not bad


@pytest.mark.parametrize("raw", ["x", "3", 0, "未知"])
def test_bad_sex(raw):
    value, bad = _one(V.parse_sex, raw)
    assert _is_na(value) and bad


@pytest.mark.parametrize("raw, expected", [("34", 34), ("34岁", 34), (34.0, 34), ("40岁", 40), ("34周岁", 34), (0, 0), ("１０２", 102)])
def test_ages(raw, expected):
    value, bad = _one(V.parse_ages, raw)
    assert value == expected and not bad


@pytest.mark.parametrize("raw", ["200", "abc", 34.5, -1, "三十四"])
def test_bad_ages(raw):
    value, bad = _one(V.parse_ages, raw)
    assert _is_na(value) and bad


@pytest.mark.parametrize(
    "raw, expected",
    [("1", 1), ("7", 7), (5, 5), ("5.0", 5), (2.0, 2), ("视力", 1), ("听力", 2), ("言语", 3), ("语言残疾", 3), ("肢体残疾", 4),
     ("智力", 5), ("精神残疾", 6), ("多重", 7), ("多重残疾", 7)],
)
def test_disability_category(raw, expected):
    value, bad = _one(V.parse_disability_category, raw)
    assert value == expected and not bad


@pytest.mark.parametrize(
    "raw, expected",
    [("1", 1), ("4", 4), (2, 2), ("一级", 1), ("二级", 2), ("三级", 3), ("四级", 4), ("3级", 3), ("三", 3)],
)
def test_disability_level(raw, expected):
    value, bad = _one(V.parse_disability_level, raw)
    assert value == expected and not bad


@pytest.mark.parametrize("parser, raw", [(V.parse_disability_category, "8"), (V.parse_disability_category, "残疾"),
                                         (V.parse_disability_level, "5"), (V.parse_disability_level, "五级"),
                                         (V.parse_disability_level, 0)])
def test_bad_disability_codes(parser, raw):
    value, bad = _one(parser, raw)
    assert _is_na(value) and bad


# ----------------------------------------------------------------- text and plumbing


@pytest.mark.parametrize(
    "raw, expected",
    [(" 张三 ", "张三"), ("ＡＢＣ１２３", "ABC123"), (150.0, "150"), (12345678901.0, "12345678901"), (1.5, "1.5"),
     (dt.date(2015, 1, 1), "2015-01-01"), (dt.datetime(2015, 1, 1, 12, 30), "2015-01-01 12:30:00"), (7, "7")],
)
def test_text(raw, expected):
    value, bad = _one(V.parse_text, raw)
    assert value == expected and not bad


def test_results_unpack_and_align():
    raw = pd.Series(["2015-03-05", "x", None], index=[7, 3, 9], dtype=object)
    result = V.parse_dates(raw)
    values, bad = result
    assert values is result.values and bad is result.bad
    assert values.index.tolist() == [7, 3, 9] and bad.index.tolist() == [7, 3, 9]
    assert bad.tolist() == [False, True, False]
    assert bad.dtype == bool


def test_types():
    assert str(V.parse_years(pd.Series(["2015"])).values.dtype) == "Int64"
    assert str(V.parse_school_years(pd.Series(["2015-2016"])).values.dtype) == "Int64"
    assert str(V.parse_ages(pd.Series(["34"])).values.dtype) == "Int64"
    assert str(V.parse_months(pd.Series(["201508"])).values.dtype) == "datetime64[ns]"
    assert V.parse_sex(pd.Series(["男"])).values.dtype == "string"
    assert V.parse_text(pd.Series(["x"])).values.dtype == "string"


def test_a_real_mixed_xlsx_column():
    # 审批日期 of jd-hemu: date cells, serial numbers as floats and as text, and text dates
    raw = pd.Series([dt.date(2015, 1, 15), 42035.0, "42066", "20150129", "2015.1.24", "", None], dtype=object)
    values, bad = V.parse_dates(raw)
    assert values.tolist()[:5] == [pd.Timestamp(x) for x in ("2015-01-15", "2015-01-31", "2015-03-03", "2015-01-29", "2015-01-24")]
    assert values.iloc[5:].isna().all() and not bad.any()


def test_arrow_input():
    raw = pd.Series(["2015-03-05", None, "bad"], dtype="string[pyarrow]")
    values, bad = V.parse_dates(raw)
    assert values.iloc[0] == D and pd.isna(values.iloc[1]) and bad.tolist() == [False, False, True]


def test_empty_series():
    for parser in (V.parse_dates, V.parse_months, V.parse_amounts, V.parse_sex, V.parse_text, V.parse_school_years):
        values, bad = parser(pd.Series([], dtype=object))
        assert len(values) == 0 and len(bad) == 0


ALL_PARSERS = (V.parse_dates, V.parse_months, V.parse_years, V.parse_school_years, V.parse_amounts, V.parse_sex,
               V.parse_ages, V.parse_disability_category, V.parse_disability_level, V.parse_text)
ANY_CELL = st.one_of(st.text(max_size=20), st.floats(), st.integers(-10**19, 10**19), st.none(), st.booleans(),
                     st.dates(), st.datetimes())


@SETTINGS
@given(st.lists(ANY_CELL, max_size=12))
def test_parsers_never_fail_and_blank_is_never_bad(cells):
    raw = pd.Series(cells, dtype=object, index=range(100, 100 + len(cells)))
    # blank as the parsers define it: nothing but whitespace and invisible characters (soft hyphen, ZWSP, BOM…)
    invisible = dict.fromkeys([0x00AD, 0x180E, *range(0x200B, 0x2010), *range(0x2060, 0x2065), 0xFEFF])
    blank = raw.isna() | raw.map(lambda v: isinstance(v, str) and not v.translate(invisible).strip())
    for parser in ALL_PARSERS:
        values, bad = parser(raw)
        assert values.index.equals(raw.index) and bad.index.equals(raw.index)
        assert not (bad & blank).any(), parser.__name__
        # a value is present exactly where the cell was neither blank nor bad (text keeps every non-blank cell)
        if parser is not V.parse_text:
            assert (values.notna() == (~blank & ~bad)).all(), parser.__name__
