"""The flag explorer's embedded data: it agrees with the Parquet files, an agency's page holds nothing of
another agency's records, the keyed search hashes find a person, and the weakest link is the bottleneck
of the flag's scored links (against a slow obvious implementation)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from relieflink.report import lookup
from relieflink.report.explorer import DECISIONS, STATUSES, decode, flag_ids
from relieflink.report.jsonout import FLAGS_JSONL, read_flags_jsonl


def _page(path) -> dict:
    return decode(path.read_text(encoding="utf-8"))



def _record_lists(page: dict) -> list[list[int]]:
    """Per flag: the indices into ``page["records"]`` (the page stores the first, then differences)."""
    f = page["flags"]
    out, k = [], 0
    for n in f["n"]:
        recs, prev = [], 0
        for m in range(n):
            prev = f["rec"][k] if m == 0 else prev + f["rec"][k]
            recs.append(prev)
            k += 1
        out.append(recs)
    return out


def _cents(v) -> int | None:
    return None if v is None or pd.isna(v) else int(round(float(v) * 100))


# ---- one flag, the same in every output: Parquet, explorer (9b adds the workbook) ---------------

def parquet_view(run) -> pd.DataFrame:
    """flags.parquet and held_flags.parquet as (flag_id, status, decision, amount in fen, records)."""
    flags = pd.read_parquet(run / "flags.parquet")
    held = pd.read_parquet(run / "held_flags.parquet").assign(status="held")
    both = pd.concat([flags, held], ignore_index=True)
    return pd.DataFrame({
        "flag_id": both["flag_id"].astype(str),
        "status": both["status"].astype(str),
        "decision": [d if isinstance(d, str) else "" for d in both["decision"]],
        "amount": [_cents(v) for v in both["amount_at_stake"]],
        "records": [tuple(sorted((str(r["file"]), int(r["row"])) for r in recs)) for recs in both["records"]],
    }).sort_values("flag_id").reset_index(drop=True)


def explorer_view(run) -> pd.DataFrame:
    """report.html's explorer data as the same columns."""
    page = _page(run / "report.html")
    f, r, d = page["flags"], page["records"], page["dict"]
    return pd.DataFrame({
        "flag_id": flag_ids(page),
        "status": [STATUSES[s] for s in f["status"]],
        "decision": [DECISIONS[x] for x in f["decision"]],
        "amount": f["amt"],
        "records": [tuple(sorted((d["file"][r["file"][k]], r["row"][k]) for k in recs)) for recs in _record_lists(page)],
    }).sort_values("flag_id").reset_index(drop=True)


VIEWS = {"explorer": explorer_view}  # 9b: "workbook": workbook_view


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_each_flag_agrees_with_its_parquet_row(run_dirs, view):
    a, _, _ = run_dirs
    expected = parquet_view(a)
    shown = VIEWS[view](a)
    assert len(expected) > 50 and (expected["decision"] == "dismissed").sum() == 1
    assert (expected["status"] == "held").any() or not len(pd.read_parquet(a / "held_flags.parquet"))
    pd.testing.assert_frame_equal(shown, expected, check_dtype=False)


def test_flags_jsonl_agrees_with_parquet(run_dirs):
    a, _, _ = run_dirs
    flags = pd.read_parquet(a / "flags.parquet").sort_values("flag_id").reset_index(drop=True)
    lines = read_flags_jsonl(a / FLAGS_JSONL)
    assert [d["flag_id"] for d in lines] == flags["flag_id"].tolist()
    assert [_cents(d["amount_at_stake"]) for d in lines] == [_cents(v) for v in flags["amount_at_stake"]]
    assert [[(x["file"], x["row"]) for x in d["records"]] for d in lines] == \
        [[(str(x["file"]), int(x["row"])) for x in recs] for recs in flags["records"]]
    # compact: one line per flag, no indentation; the same bytes twice (checked in test_report)
    text = gzip.decompress((a / FLAGS_JSONL).read_bytes()).decode("utf-8")
    assert text.count("\n") == len(flags) and "\n " not in text


# ---- an agency's page: nothing of another agency's records -----------------------------------

def test_agency_pages_hold_nothing_of_other_agencies_records(run_dirs):
    a, _, _ = run_dirs
    records = pd.read_parquet(a / "records.parquet")
    flags = pd.read_parquet(a / "flags.parquet").set_index("flag_id")
    amount_of = {(f, int(r)): _cents(v) for f, r, v in zip(records["file"], records["row"], records["amount"])}
    checked = 0
    for agency in sorted(records["agency"].unique()):
        html = (a / "reports" / f"{agency}.html").read_text(encoding="utf-8")
        page = decode(html)
        text = html + json.dumps(page, ensure_ascii=False)
        for f in sorted(set(records.loc[records["agency"] != agency, "file"])):
            assert f not in text, f"{agency}: {f}"
        r, d = page["records"], page["dict"]
        own = np.asarray(r["own"], dtype=bool)
        codes = [d["agency"][k][0] for k in r["ag"]]
        assert all(c == agency for c, o in zip(codes, own) if o)
        assert not any(c == agency for c, o in zip(codes, own) if not o)
        for column in ("file", "name", "id", "sub"):  # another agency's record: agency, program, period only
            assert all(v == -1 for v, o in zip(r[column], own) if not o), (agency, column)
        for column in ("row", "amt"):
            assert all(v is None for v, o in zip(r[column], own) if not o), (agency, column)
        for k in np.flatnonzero(own):  # own records as delivered
            assert r["amt"][k] == amount_of[(d["file"][r["file"][k]], r["row"][k])]
        fl = page["flags"]
        ids = flag_ids(page)
        for i, fid in enumerate(ids):
            if not fl["full"][i]:
                assert fl["amt"][i] is None and fl["conf"][i] is None, fid
                assert "元" not in fl["text"][i] and "涉及金额" not in fl["text"][i], fid
                checked += 1
            else:
                assert fl["amt"][i] == _cents(flags.loc[fid, "amount_at_stake"]), fid
        # a link's waterfall only between two records the agency sees in full
        for k in range(len(page["links"]["a"])):
            assert own[page["links"]["a"][k]] and own[page["links"]["b"][k]]
        assert "dismissed" not in [DECISIONS[x] for x in fl["decision"]] and 2 not in fl["status"]
    assert checked > 20  # flags involving another agency were looked at


# ---- search by full ID or name: keyed hashes, never the values --------------------------------

def test_search_hashes_find_a_person_by_full_id_and_name(run_dirs):
    a, _, _ = run_dirs
    persons = pd.read_parquet(a / "persons.parquet").drop_duplicates("person_id").set_index("person_id")
    flags = pd.read_parquet(a / "flags.parquet")
    platform = _page(a / "report.html")
    mzj = _page(a / "reports" / "mzj.html")
    assert platform["key"] != mzj["key"] and len(bytes.fromhex(platform["key"])) == 32
    pid = flags.dropna(subset=["person_id"]).sort_values("flag_id")["person_id"].iloc[0]
    full_id, name = persons.loc[pid, "id_number"], persons.loc[pid, "name"]
    ids = flag_ids(platform)
    person = platform["flags"]["person"][ids.index(flags.loc[flags["person_id"] == pid, "flag_id"].min())]
    key = bytes.fromhex(platform["key"])
    hid, hname = platform["persons"]["hid"], platform["persons"]["hname"]
    assert hid[person] == lookup.id_hash(full_id, key) == lookup.id_hash(" " + full_id.lower() + " ", key)
    assert hname[person] == lookup.name_hash(name, key)
    assert hid.count(hid[person]) == 1  # one person per full ID
    # another page's hashes are under another key: not comparable across pages
    assert lookup.id_hash(full_id, bytes.fromhex(mzj["key"])) != hid[person]
    assert full_id not in json.dumps(platform) and full_id not in json.dumps(mzj)


def test_name_normalization_unifies_what_a_user_may_type():
    key = b"k" * 32
    assert lookup.name_hash("阿依古丽·买买提", key) == lookup.name_hash("阿依古丽.买买提", key) == \
        lookup.name_hash(" 阿依古丽 •买买提 ", key) == lookup.name_hash("阿依古丽－－买买提", key)
    assert lookup.name_hash("张三", key) != lookup.name_hash("张四", key)
    assert lookup.id_hash("33010519770101317x", key) == lookup.id_hash("33010519770101317X", key)
    assert lookup.id_hash("", key) is None and lookup.name_hash(None, key) is None


def test_search_key_is_derived_from_the_inputs_and_the_pseudonym_key():
    manifest = {"inputs": [{"file": "a.csv", "sha256": "00"}, {"file": "b.csv", "sha256": "11"}]}
    shuffled = {"inputs": list(reversed(manifest["inputs"]))}
    other = {"inputs": [{"file": "a.csv", "sha256": "01"}, {"file": "b.csv", "sha256": "11"}]}
    k = lookup.search_key(manifest)
    assert k == lookup.search_key(shuffled) and k != lookup.search_key(other)
    assert lookup.search_key(manifest, b"secret") not in (k, lookup.search_key(manifest, b"other"))
    assert lookup.page_key(k, None) == k and lookup.page_key(k, "mzj") not in (k, lookup.page_key(k, "cl"))


# ---- the weakest link: the bottleneck of the flag's scored links ------------------------------

def _oracle(run) -> dict[str, tuple[str, float | None]]:
    """Per flag and held item: how its records are joined and the weight of its weakest needed link,
    by Kruskal's algorithm on each flag's own pairs (a slow, obvious implementation)."""
    flags = pd.concat([pd.read_parquet(run / "flags.parquet"), pd.read_parquet(run / "held_flags.parquet")])
    records = pd.read_parquet(run / "records.parquet")
    mentions = pd.read_parquet(run / "mentions.parquet").set_index("mention_id")
    pairs = pd.read_parquet(run / "pairs.parquet")
    by_rec = {(f, int(r)): (m, c) for f, r, m, c in
              zip(records["file"], records["row"], records["beneficiary_mention_id"], records["link_confidence"])}
    weight = {}
    for lo, hi, w in zip(pairs["left_node"], pairs["right_node"], pairs["match_weight"]):
        key = (min(lo, hi), max(lo, hi))
        weight[key] = max(weight.get(key, -np.inf), w)
    out = {}
    for fid, recs in zip(flags["flag_id"], flags["records"]):
        got = [by_rec[(str(r["file"]), int(r["row"]))] for r in recs]
        nodes = {}
        for m, _ in got:
            if not pd.isna(m):
                nodes[int(mentions.loc[int(m), "link_node"])] = mentions.loc[int(m), "person_id"]
        certain = all(c >= 1.0 for _, c in got)
        if len(nodes) == 1:
            out[fid] = ("same_identity", None)
            continue
        if certain:
            out[fid] = ("valid_id", None)
            continue
        edges = sorted(((w, lo, hi) for (lo, hi), w in weight.items()
                        if lo in nodes and hi in nodes and nodes[lo] == nodes[hi]), reverse=True)
        parent = {n: n for n in nodes}

        def find(x):
            while parent[x] != x:
                x = parent[x]
            return x
        used = []
        for w, lo, hi in edges:
            if find(lo) != find(hi):
                parent[find(lo)] = find(hi)
                used.append(w)
        roots = {find(n) for n in nodes}
        connected = len(roots) == len(set(nodes.values()))
        out[fid] = ("links" if connected and used else "indirect", min(used) if used else None)
    return out


def test_weakest_link_is_the_bottleneck_of_the_flags_links(run_dirs):
    a, _, _ = run_dirs
    page = _page(a / "report.html")
    f, links = page["flags"], page["links"]
    expected = _oracle(a)
    shown = {}
    for i, fid in enumerate(flag_ids(page)):
        link = f["link"][i]
        shown[fid] = (page["dict"]["joined"][f["joined"][i]], links["mw"][link] / 100 if link >= 0 else None)
    assert shown.keys() == expected.keys()
    kinds = {k for k, _ in expected.values()}
    assert {"links", "valid_id", "same_identity"} <= kinds
    for fid, (kind, w) in expected.items():
        got_kind, got_w = shown[fid]
        assert got_kind == kind, fid
        if w is None:
            assert got_w is None, fid
        else:
            assert got_w == pytest.approx(w, abs=0.006), fid
    # the waterfall adds up: prior + each comparison's weight = the match weight
    for k in range(len(links["mw"])):
        total = links["prior"][k] + sum(w[k] for w in links["w"])
        assert abs(total - links["mw"][k]) <= 1 + len(links["w"]), k  # rounding to 0.01 bit per term
