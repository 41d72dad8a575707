"""A rule is data: a rule file that does not validate is refused with the file, the rule id and the key."""

from __future__ import annotations

import shutil

import pytest

from relieflink.audit import load_rules
from relieflink.config import ConfigError, load_catalog, schemas_dir


@pytest.fixture()
def schemas(tmp_path):
    dest = tmp_path / "schemas"
    shutil.copytree(schemas_dir(), dest)
    return dest


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_every_rule_of_the_spec_is_configured():
    rules = load_rules()
    assert {r.id for r in rules.rules} == {
        "DUP-SAME-PROGRAM", "DUP-SAME-PURPOSE", "EXCL-STATUS", "EXCL-TK-DISABILITY", "MULTI-SOURCE", "TEMP-FREQ",
        "MISS-DISABILITY", "MISS-MEDICAL-INSURANCE", "MISS-ELDERLY-INSURANCE", "MISS-EDUCATION", "MISS-REFERRAL",
    }
    assert all(r.basis and r.title_zh and r.title_en for r in rules.rules)


def test_wrong_parameter_names_file_rule_and_key(schemas):
    _edit(schemas / "rules.yaml", "      window_days: 365\n", "      window_dayz: 365\n")
    with pytest.raises(ConfigError) as err:
        load_rules(schemas / "rules.yaml", load_catalog(schemas / "programs.yaml"))
    message = str(err.value)
    assert "rules.yaml" in message and "rule TEMP-FREQ" in message and "window_dayz" in message


@pytest.mark.parametrize("old, new, message", [
    ("entitlement: [JD-YBBT]", "entitlement: [JD-YBBX]",
     r"rules\.yaml: rule MISS-MEDICAL-INSURANCE: params\.entitlement\.0: unknown program 'JD-YBBX'"),
    ("三无: {holds_any: [MZJ-TK]}", "三无: {holds_any: [MZJ-TX]}",
     r"rules\.yaml: rule MISS-ELDERLY-INSURANCE: params\.granted_as\.三无\.holds_any\.0: unknown program 'MZJ-TX'"),
])
def test_unknown_program_in_a_rule(schemas, old, new, message):
    _edit(schemas / "rules.yaml", old, new)
    with pytest.raises(ConfigError, match=message):
        load_rules(schemas / "rules.yaml", load_catalog(schemas / "programs.yaml"))


def test_unknown_rule_kind(schemas):
    _edit(schemas / "rules.yaml", "kind: frequency", "kind: frequencies")
    with pytest.raises(ConfigError, match=r"rules\.yaml: rule TEMP-FREQ"):
        load_rules(schemas / "rules.yaml", load_catalog(schemas / "programs.yaml"))


def test_threshold_is_a_parameter(schemas):
    _edit(schemas / "rules.yaml", "      threshold: 3\n", "      threshold: 4\n")
    rules = load_rules(schemas / "rules.yaml", load_catalog(schemas / "programs.yaml"))
    multi = next(r for r in rules.rules if r.id == "MULTI-SOURCE")
    assert multi.params.threshold == 4


def test_link_odds_factor_must_be_a_probability_ratio_at_most_one(schemas):
    _edit(schemas / "rules.yaml", "link_odds_factor: 0.01", "link_odds_factor: 3")
    with pytest.raises(ConfigError, match=r"rule DUP-SAME-PROGRAM.*link_odds_factor"):
        load_rules(schemas / "rules.yaml", load_catalog(schemas / "programs.yaml"))


def test_measured_precision_must_be_a_share(schemas):
    _edit(schemas / "rules.yaml", "measured_precision: 0.994", "measured_precision: 1.5")
    with pytest.raises(ConfigError, match=r"rule MISS-REFERRAL.*measured_precision"):
        load_rules(schemas / "rules.yaml", load_catalog(schemas / "programs.yaml"))
