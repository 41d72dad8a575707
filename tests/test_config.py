"""Configuration is data: the shipped files load, broken ones are refused with file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from relieflink.config import ConfigError, load_canonical, load_catalog, load_sources, schemas_dir


def test_shipped_configuration_loads_every_source_of_the_contract():
    catalog = load_catalog()
    sources = load_sources(catalog=catalog)
    codes = {s.source for s in sources}
    agencies = {"zgh", "jyj", "rsj", "mzj", "cl", "sfj", "jsj"}
    subdistricts = {a.code for a in catalog.agencies if a.kind == "subdistrict"}
    assert len(subdistricts) == 10
    assert codes == agencies | subdistricts  # the 17 sources of SPEC §2
    tables = [t.table for s in sources for t in s.tables]
    assert len(tables) == 7 + 2 + 1 + 10  # mzj and cl deliver 3 and 2 tables
    assert {"mentions", "records", "quarantine"} <= set(load_canonical())


def _copy_schemas(tmp_path: Path) -> Path:
    dest = tmp_path / "schemas"
    shutil.copytree(schemas_dir(), dest)
    return dest


def test_unknown_parser_names_file_and_key(tmp_path):
    schemas = _copy_schemas(tmp_path)
    path = schemas / "sources" / "rsj.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("姓名: {parse: name", "姓名: {parse: nmae"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_sources(schemas / "sources", load_catalog(schemas / "programs.yaml"))
    message = str(err.value)
    assert "rsj.yaml" in message and "tables.0.columns.姓名.parse" in message


def test_mention_referring_to_unlisted_column_is_refused(tmp_path):
    schemas = _copy_schemas(tmp_path)
    path = schemas / "sources" / "sfj.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("name: 受援人姓名, id: 证件号码", "name: 受援人姓名, id: 证件号"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sfj\.yaml.*mentions\.person\.id\.0.*证件号"):
        load_sources(schemas / "sources", load_catalog(schemas / "programs.yaml"))


def test_unknown_program_code_is_refused(tmp_path):
    schemas = _copy_schemas(tmp_path)
    path = schemas / "sources" / "jsj.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("JSJ-SW}", "JSJ-XX}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"jsj\.yaml: tables\.0\.record\.program: unknown program 'JSJ-XX'"):
        load_sources(schemas / "sources", load_catalog(schemas / "programs.yaml"))


def test_yaml_syntax_error_names_line(tmp_path):
    schemas = _copy_schemas(tmp_path)
    (schemas / "programs.yaml").write_text("agencies: [\n  - code: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"programs\.yaml: is not valid YAML at line \d+"):
        load_catalog(schemas / "programs.yaml")


def test_catalog_refuses_duplicate_program(tmp_path):
    schemas = _copy_schemas(tmp_path)
    path = schemas / "programs.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("code: MZJ-DBBY", "code: MZJ-DB"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"duplicate program code 'MZJ-DB'"):
        load_catalog(path)


def test_template_substitutes_source_code(tmp_path):
    sources = {s.source: s for s in load_sources()}
    assert sources["jd-hushu"].tables[0].files == ["jd-hushu_临时救助*"]
