"""The review queue as work (ranked by expected money, filters, identity items field by field,
MULTI-SOURCE as one list), reports after review without a rerun, and ``open_run``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relieflink.cli import EXIT_INPUT, EXIT_OK, main
from relieflink.report.jsonout import FLAGS_JSONL

SMALL = Path(__file__).resolve().parents[1] / "fixtures" / "small-default" / "batch"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("queue") / "out"
    assert main(["run", str(SMALL), "--out", str(out), "--quiet"]) == EXIT_OK
    return out


def _review_json(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert main(["review", *argv, "--json"]) == EXIT_OK
    return json.loads(capsys.readouterr().out)


def test_queue_is_ranked_by_expected_money_and_multi_source_is_apart(small_run):
    from relieflink.audit.rules import load_rules
    from relieflink.review import open_items
    from relieflink.review.rank import rule_precisions

    items = open_items(small_run, [])
    assert len(items) and items["item_id"].is_unique
    main_q, apart = items[items["queue"] == "main"], items[items["queue"] != "main"]
    assert set(apart["rule_id"]) == {"MULTI-SOURCE"} and "MULTI-SOURCE" not in set(main_q["rule_id"].dropna())
    assert items.index[items["queue"] != "main"].min() > items.index[items["queue"] == "main"].max()
    for q in (main_q, apart):
        assert (np.diff(q["expected"].astype(float).to_numpy()) <= 1e-9).all()  # largest first
        assert q["rank"].tolist() == list(range(1, len(q) + 1))
    # a flag is worth its money times link confidence times its rule's measured precision (row by row)
    flags = pd.read_parquet(small_run / "flags.parquet").set_index("flag_id")
    precision = rule_precisions(load_rules())
    for item in items[items["kind"] == "flag"].itertuples():
        flag = flags.loc[item.item_id]
        assert flag["status"] == "review" and pd.isna(flag["decision"])
        p = (1.0 if pd.isna(flag["link_confidence"]) else float(flag["link_confidence"])) * precision.get(item.rule_id, 1.0)
        assert item.p_real == pytest.approx(p)
        assert item.expected == pytest.approx(item.value * p, abs=0.011)
        if float(flag["amount_at_stake"] or 0) > 0:
            assert item.value == pytest.approx(float(flag["amount_at_stake"]))


def test_review_filters_and_json(small_run, capsys):
    whole = _review_json(capsys, str(small_run), "--limit", "100000")
    assert whole["matching"] == whole["open_items"]
    assert all(i["rule_id"] != "MULTI-SOURCE" for i in whole["items"])  # listed apart unless asked for
    multi = _review_json(capsys, str(small_run), "--rule", "MULTI-SOURCE", "--limit", "100000")
    assert multi["items"] and all(i["rule_id"] == "MULTI-SOURCE" and i["queue"] == "multi_source" for i in multi["items"])
    assert all(len(i["agencies"]) >= 3 for i in multi["items"]) or all(i["programs"] for i in multi["items"])
    assert len(whole["items"]) + len(multi["items"]) == whole["open_items"]
    flags_only = _review_json(capsys, str(small_run), "--kind", "flag", "--limit", "100000")
    assert flags_only["items"] and {i["kind"] for i in flags_only["items"]} == {"flag"}
    by_code = _review_json(capsys, str(small_run), "--agency", "mzj", "--limit", "100000")
    by_name = _review_json(capsys, str(small_run), "--agency", "区民政局", "--limit", "100000")
    assert by_code["items"] == by_name["items"] and by_code["matching"] < whole["open_items"]
    assert all("mzj" in i["agencies"] for i in by_code["items"])
    limited = _review_json(capsys, str(small_run), "--limit", "3")
    assert [i["item_id"] for i in limited["items"]] == [i["item_id"] for i in whole["items"][:3]]
    assert main(["review", str(small_run), "--agency", "no-such-agency"]) == EXIT_INPUT


def test_identity_items_show_both_sides_with_the_pairs_weights(small_run, capsys):
    from relieflink.review.decisions import seen_keys

    shown = _review_json(capsys, str(small_run), "--kind", "identity", "--limit", "100000")
    assert shown["items"] and {i["kind"] for i in shown["items"]} == {"identity"}
    text = json.dumps(shown, ensure_ascii=False)
    mentions = pd.read_parquet(small_run / "mentions.parquet")
    full_ids = {i for i in mentions["id_clean"].dropna().astype(str) if len(i) >= 15}
    assert not any(i in text for i in full_ids)  # masked
    pairs = pd.read_parquet(small_run / "pairs.parquet")
    seen = pd.Series(seen_keys(mentions).to_numpy(), index=mentions["mention_id"].to_numpy())
    by_seen = {frozenset((seen[a], seen[b])): k for k, (a, b) in
               enumerate(zip(pairs["left_mention_id"], pairs["right_mention_id"]))}
    checked = 0
    for item in shown["items"]:
        sides = item["sides"]
        labels = [f["field"] for f in sides["fields"]]
        assert labels[:5] == ["姓名", "身份证号", "出生日期", "性别", "电话"] and "来源" in labels and "项目" in labels
        k = by_seen.get(frozenset((item["left"], item["right"])))
        if k is None or not sides["direct_pair"]:
            continue
        pair = pairs.iloc[k]
        for f, comparison in zip(sides["fields"], ("name", "id", "birth_date", "sex", "phone")):
            assert f["weight"] == pytest.approx(float(pair[f"w_{comparison}"]), abs=1e-3)
            assert f["level"] == str(pair[f"level_{comparison}"])
        assert sides["match_weight"] == pytest.approx(float(pair["match_weight"]), abs=1e-3)
        checked += 1
    assert checked


def _decide_two_flags(out: Path, decisions: Path, capsys) -> tuple[str, str]:
    multi = _review_json(capsys, str(out), "--rule", "MULTI-SOURCE")["items"][0]["item_id"]
    other = _review_json(capsys, str(out), "--kind", "flag")["items"][0]["item_id"]
    for item, decision in ((multi, "dismiss"), (other, "confirm")):
        assert main(["decide", str(out), item, "--decision", decision, "--reviewer", "甲", "--reason", "核实",
                     "--decisions", str(decisions)]) == EXIT_OK
    return multi, other


def test_report_after_review_writes_what_a_rerun_with_the_decisions_writes(small_run, tmp_path, capsys):
    from relieflink.report.xlsx import parquet_flag_rows, read_flag_rows

    out, decisions = tmp_path / "out", tmp_path / "decisions.jsonl"
    shutil.copytree(small_run, out)
    dismissed, confirmed = _decide_two_flags(out, decisions, capsys)
    before = {p.name: p.stat().st_ino for p in out.iterdir()}
    assert main(["report", str(out), "--decisions", str(decisions)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "2 flag decisions applied" in printed and "dismissed 1" in printed and "confirmed 1" in printed
    rerun = tmp_path / "rerun"
    assert main(["run", str(SMALL), "--out", str(rerun), "--decisions", str(decisions), "--quiet"]) == EXIT_OK
    for name in ("flags.parquet", "run.json", "report.xlsx", "report.html", FLAGS_JSONL, "reports/mzj.html",
                 "screening/index.json", *(f"screening/{p.name}" for p in sorted((rerun / "screening").glob("*.npy")))):
        assert (out / name).read_bytes() == (rerun / name).read_bytes(), name
    flags = pd.read_parquet(out / "flags.parquet").set_index("flag_id")
    assert flags.loc[dismissed, "decision"] == "dismissed" and flags.loc[confirmed, "status"] == "finding"
    counts = json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]
    assert counts["flags_decided"] == {"MULTI-SOURCE (dismissed)": 1, f"{flags.loc[confirmed, 'rule_id']} (confirmed)": 1}
    assert counts["flags_by_rule"]["MULTI-SOURCE (dismissed)"] == 1
    # the folder was replaced as a whole: every file is a new entry, nothing left beside it
    assert {p.name for p in out.iterdir()} == set(before) and sorted(p.name for p in tmp_path.iterdir()) == \
        ["decisions.jsonl", "out", "rerun"]
    # a flag's workbook row agrees with its Parquet row (amount, records, status, decision)
    shown = read_flag_rows(out / "report.xlsx").sort_values("flag_id", kind="mergesort").reset_index(drop=True)
    pd.testing.assert_frame_equal(shown, parquet_flag_rows(flags.reset_index()), check_dtype=False)


def test_report_says_which_identity_decisions_need_a_new_linkage(small_run, tmp_path, capsys):
    out, decisions = tmp_path / "out", tmp_path / "decisions.jsonl"
    shutil.copytree(small_run, out)
    items = _review_json(capsys, str(out), "--kind", "identity", "--limit", "100000")["items"]
    mentions = pd.read_parquet(out / "mentions.parquet")
    person = dict(zip(mentions["fingerprint"], mentions["person_id"]))
    linked = next(i for i in items if person.get(i["left_key"]) == person.get(i["right_key"]))
    assert main(["decide", str(out), linked["item_id"], "--decision", "different", "--reviewer", "甲", "--reason",
                 "不同人", "--decisions", str(decisions)]) == EXIT_OK
    capsys.readouterr()
    assert main(["report", str(out), "--decisions", str(decisions)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "1 identity decisions change who is whom and need a new linkage" in printed
    counts = json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]
    assert len(counts["decisions_awaiting_linkage"]) == 1


def test_report_refuses_what_is_not_a_run_folder(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_text("a")
    assert main(["report", str(tmp_path / "x")]) == EXIT_INPUT
    assert (tmp_path / "x" / "a.txt").read_text() == "a"


def test_open_run_reads_the_tables_lazily_and_refuses_other_folders(small_run, tmp_path):
    import relieflink
    from relieflink.errors import InputRefused

    run = relieflink.open_run(small_run)
    assert "flags" not in run.__dict__  # not read until asked for
    for name, file in (("mentions", "mentions"), ("persons", "persons"), ("pairs", "pairs"), ("flags", "flags"),
                       ("held", "held_flags"), ("records", "records"), ("quarantine", "quarantine"),
                       ("households", "households")):
        table = getattr(run, name)
        assert len(table) == len(pd.read_parquet(small_run / f"{file}.parquet")), name
    assert run.changes is None  # no --previous
    assert run.counts["persons"] == len(run.persons)
    assert "doc" in {k.decode() for k in (run.schema("mentions").field("name").metadata or {})}
    with pytest.raises(InputRefused):
        relieflink.open_run(tmp_path)
