"""Linkage settings are validated data: a misspelled key at any depth is refused with the file and the
dotted key, never silently replaced by a default; a trained model reloads as it was saved."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from relieflink.cli import EXIT_CONFIG, main
from relieflink.config import ConfigError, schemas_dir
from relieflink.linkage import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture()
def schemas(tmp_path):
    dest = tmp_path / "schemas"
    shutil.copytree(schemas_dir(), dest)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("old, new, key", [
    # a comparison level's parameter (a jaro_winkler level of the address comparison)
    ("{kind: jaro_winkler, threshold: 0.92, label: jw_0.92}", "{kind: jaro_winkler, treshold: 0.92, label: jw_0.92}",
     "comparisons.address.levels.2.treshold"),
    ("  em_max_iter: 300", "  em_max_itr: 300", "training.em_max_itr"),
    ("{name: pinyin_birth_year, kind: key, columns: [name_pinyin, by_block], max_block: 60}",
     "{name: pinyin_birth_year, kind: key, columns: [name_pinyin, by_block], max_blok: 60}",
     "blocking.pinyin_birth_year.max_blok"),
    ("{kind: syllables, column: given_pinyin, surname: surname, max_diff: 1, label: one_syllable}",
     "{kind: syllables, column: given_pinyin, surname: surname, max_dif: 1, label: one_syllable}",
     "comparisons.name.levels.4.max_dif"),
    ("    - {pass: valid_id, exclude: [id]}", "    - {pass: valid_id, exlude: [id]}", "training.sessions.0.exlude"),
    ("  margin: 4.0", "  margni: 4.0", "clustering.margni"),
    ("    - when: {name: [surname_only, disagree]}", "    - wen: {name: [surname_only, disagree]}",
     "clustering.gates.0.wen"),
    ("{kind: same_key, key: household_no, differ: hh_member}", "{kind: same_key, key: household_no, dffer: hh_member}",
     "clustering.cannot_link.1.dffer"),
    ("    vote_column: name_pinyin", "    vote_colum: name_pinyin", "clustering.anchor.vote_colum"),
    ("  address_phone_max_persons: 8", "  address_phone_max_person: 8", "households.address_phone_max_person"),
    ("name: relief\n", "name: relief\nlink_typ: dedupe\n", "link_typ"),
])
def test_misspelled_key_is_refused_with_file_and_key(schemas, old, new, key):
    path = schemas / "linkage" / "relief.yaml"
    _edit(path, old, new)
    with pytest.raises(ConfigError) as exc:
        Settings.load(path)
    assert exc.value.path == path and exc.value.key == key, str(exc.value)
    assert str(exc.value) == f"{path}: {key}: unknown key; check its spelling"


def test_misspelled_level_kind_is_refused(schemas):
    path = schemas / "linkage" / "relief.yaml"
    _edit(path, "{kind: jaro_winkler, threshold: 0.92, label: jw_0.92}",
          "{kind: jaro_winklr, threshold: 0.92, label: jw_0.92}")
    with pytest.raises(ConfigError) as exc:
        Settings.load(path)
    assert exc.value.key == "comparisons.address.levels.2.kind"
    assert "unknown kind 'jaro_winklr'" in str(exc.value) and "'jaro_winkler'" in str(exc.value)


def test_a_level_missing_its_parameter_is_refused(schemas):
    path = schemas / "linkage" / "relief.yaml"
    _edit(path, "{kind: jaro_winkler, threshold: 0.92, label: jw_0.92}", "{kind: jaro_winkler, label: jw_0.92}")
    with pytest.raises(ConfigError) as exc:
        Settings.load(path)
    assert exc.value.key == "comparisons.address.levels.2.threshold" and "required" in str(exc.value)


@pytest.mark.parametrize("old, new, key, words", [
    ("    - {pass: valid_id, exclude: [id]}", "    - {pass: valid_ids, exclude: [id]}", "training.sessions.0.pass",
     "valid_ids"),
    ("      cap: {phone: 0, address: 0, community: 0, subdistrict: 0}",
     "      cap: {phone: 0, adress: 0, community: 0, subdistrict: 0}", "clustering.gates.0.cap.adress", "adress"),
    ("comparison: name, levels: [surname_only, disagree]}", "comparison: name, levels: [surname_only, disagre]}",
     "clustering.cannot_link.0.comparison", "disagre"),
    ("{name: id_evidence, kind: key, columns: [id_cmp], only_if: id_fuzzy}",
     "{name: id_evidence, kind: key, columns: [id_cmp], only_if: id_fuzy}", "blocking.id_evidence.only_if", "id_fuzy"),
])
def test_a_name_that_points_nowhere_is_refused(schemas, old, new, key, words):
    """A misspelled *value* that names another part of the document (a pass, a comparison, a level label)."""
    path = schemas / "linkage" / "relief.yaml"
    _edit(path, old, new)
    with pytest.raises(ConfigError) as exc:
        Settings.load(path)
    assert exc.value.key == key and words in str(exc.value)


def test_the_shipped_settings_validate_and_a_trained_model_reloads(tmp_path):
    for name in ("relief", "febrl"):
        s = Settings.load(name)
        s.prior, s.m, s.u = 0.01, {c.name: [0.5] * len(c.levels) for c in s.comparisons}, \
            {c.name: [0.5] * len(c.levels) for c in s.comparisons}
        path = tmp_path / f"{name}.json"
        s.save(path)
        again = Settings.load(path)
        assert again.is_trained and again.to_dict() == s.to_dict()
        assert again.training.em_max_iter == 300 and again.clustering.method == s.clustering.method


def test_a_reloaded_model_with_a_misspelled_key_is_refused(tmp_path):
    s = Settings.load("relief")
    d = s.to_dict()
    d["clustering"]["match_probabilty"] = d["clustering"].pop("match_probability")
    path = tmp_path / "linkage_model.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        Settings.load(path)
    assert exc.value.path == path and exc.value.key == "clustering.match_probabilty"


def test_the_cli_says_it_in_one_sentence_with_exit_3(schemas, tmp_path, monkeypatch, capsys):
    _edit(schemas / "linkage" / "relief.yaml", "  em_max_iter: 300", "  em_max_itr: 300")
    monkeypatch.setenv("RELIEFLINK_SCHEMAS", str(schemas))
    out = tmp_path / "out"
    assert main(["run", str(FIXTURES / "samples" / "exports"), "--out", str(out)]) == EXIT_CONFIG
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"configuration error: {schemas / 'linkage' / 'relief.yaml'}: training.em_max_itr: "
                       "unknown key; check its spelling")
    assert not any("Traceback" in line for line in err)
    assert not out.exists()
