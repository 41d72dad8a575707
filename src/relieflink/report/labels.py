"""Chinese labels of the linkage model's comparisons and levels, for the evidence panel's waterfall.

A comparison or level not listed here is shown by its name in the model.
"""

from __future__ import annotations

COMPARISON_ZH = {
    "id": "身份证号",
    "name": "姓名",
    "birth_date": "出生日期",
    "sex": "性别",
    "phone": "电话",
    "subdistrict": "街道",
    "community": "社区",
    "address": "地址",
}

LEVEL_ZH = {
    "missing": "缺失",
    "exact": "一致",
    "one_substitution": "一位不同",
    "transposition": "相邻两位互换",
    "excel_prefix": "Excel截断（前14位一致）",
    "disagree": "不一致",
    "pinyin": "同音",
    "wildcard": "含缺字（?）一致",
    "one_syllable": "名字一字不同",
    "surname_only": "仅姓相同",
    "year_month": "年月一致",
    "day_month_swapped": "月日颠倒",
    "one_digit": "一位数字不同",
    "year_from_age": "与按年龄推算的出生年一致",
    "jw_0.92": "相似（≥0.92）",
}
