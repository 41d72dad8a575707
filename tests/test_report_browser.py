"""report.html and an agency report in headless Chromium, as an auditor uses them: the explorer loads,
a full ID typed into the search finds exactly that person's flags (WebCrypto's HMAC agrees with the
page's keyed hashes), a filter narrows the list, the CSV export holds the filtered list, the evidence
panel shows the records and the weakest link's waterfall; the agency's page shows another agency's
record only as agency, program and period and fits 1,366 px. No console error on the way.
Screenshots go to the test's tmp folder (and to $RELIEFLINK_SCREENSHOTS when set)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser  # noqa: E402

from relieflink.report.explorer import decode, flag_ids  # noqa: E402

WIDTH = 1366

_why = browser.unavailable()
if _why and not browser.required():
    pytest.skip(f"no browser here: {_why}", allow_module_level=True)



def _shot(page, tmp_path: Path, name: str, full_page: bool = False) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    keep = os.environ.get("RELIEFLINK_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


def _search(page, text: str) -> int:
    page.fill("#rl-q", text)
    page.wait_for_function("q => document.documentElement.getAttribute('data-rl-query') === q", arg=text)
    return _count(page)


def _count(page) -> int:
    return int(page.get_attribute("#rl-table", "data-count"))


def _shown_ids(page) -> list[str]:
    return page.eval_on_selector_all("#rl-table tbody tr", "rows => rows.map(r => r.getAttribute('data-flag'))")


def _no_horizontal_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"the page is {width}px wide at a {WIDTH}px window"
    clipped = page.evaluate("""() => [...document.querySelectorAll('#rl-table th')]
        .filter(th => th.scrollWidth > th.clientWidth + 1).map(th => th.textContent)""")
    assert clipped == [], f"clipped column headings: {clipped}"


def test_report_in_chromium(run_dirs, tmp_path):
    if _why:
        pytest.fail(f"the browser test must run here (CI): {_why}")
    a, _, _ = run_dirs
    payload = decode((a / "report.html").read_text(encoding="utf-8"))
    ids = flag_ids(payload)
    flags = pd.read_parquet(a / "flags.parquet")
    held = pd.read_parquet(a / "held_flags.parquet")
    persons = pd.read_parquet(a / "persons.parquet").drop_duplicates("person_id").set_index("person_id")
    both = pd.concat([flags, held], ignore_index=True)
    # a person with several flags, searched by the full ID the page never holds
    per = both.dropna(subset=["person_id"]).groupby("person_id")["flag_id"].apply(sorted)
    pid = per[per.str.len() >= 2].index[0]
    full_id = persons.loc[pid, "id_number"]
    # a flag whose records are held together by a scored link: its panel draws the waterfall
    f = payload["flags"]
    linked = next(i for i in range(len(ids)) if f["link"][i] >= 0)

    with browser.chromium(WIDTH) as context:
        page = context.new_page()
        errors = browser.watch_console(page)
        browser.open_report(page, a / "report.html")
        assert _count(page) == len(both)
        assert len(_shown_ids(page)) == min(50, len(both))
        _shot(page, tmp_path, "report-top")
        page.locator("#explorer").scroll_into_view_if_needed()
        _no_horizontal_overflow(page)
        _shot(page, tmp_path, "report-explorer")

        assert _search(page, full_id) == len(per[pid])
        assert sorted(_shown_ids(page)) == per[pid]
        assert _search(page, full_id.lower()[:17] + full_id[17:].lower()) == len(per[pid])  # x or X

        _search(page, "")
        rule = "MULTI-SOURCE"
        page.select_option("#rl-rule", label=next(o for o in page.eval_on_selector_all(
            "#rl-rule option", "os => os.map(o => o.textContent)") if o.startswith(rule + " ")))
        assert _count(page) == int((both["rule_id"] == rule).sum())
        page.select_option("#rl-status", "review")
        expected = both[(both["rule_id"] == rule) & (both["status"] == "review") & (both["decision"].fillna("") != "dismissed")]
        assert _count(page) == len(expected)
        page.fill("#rl-min", "1000")
        page.dispatch_event("#rl-min", "change")
        expected = expected[expected["amount_at_stake"] >= 1000]
        assert _count(page) == len(expected) > 0
        with page.expect_download() as download:
            page.click("#rl-csv")
        csv = Path(download.value.path()).read_bytes().decode("utf-8")
        assert csv.startswith("\ufeff编号,")
        lines = csv.strip("\ufeff\r\n").split("\r\n")
        assert len(lines) == len(expected) + 1
        assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(expected["flag_id"])
        assert full_id not in csv and not re.search(r"\d{17}[\dX]", csv)

        page.click("#rl-reset")
        assert _count(page) == len(both)
        assert _search(page, ids[linked][1:].lower()) >= 1
        page.click(f"#rl-table tbody tr[data-flag='{ids[linked]}']")
        page.wait_for_selector("#rl-panel.open")
        panel = page.locator("#rl-panel-body")
        assert ids[linked] in panel.inner_text()
        assert panel.locator("table.records tbody tr").count() == f["n"][linked]
        assert panel.locator("svg.waterfall rect").count() >= 3
        assert "关联A" in panel.inner_text() and "关联B" in panel.inner_text()
        assert "政策依据" in panel.inner_text()
        _shot(page, tmp_path, "report-panel")
        chart = panel.locator("svg.waterfall")
        chart.scroll_into_view_if_needed()
        _shot(page, tmp_path, "report-waterfall")
        page.keyboard.press("Escape")
        assert not page.locator("#rl-panel.open").count()
        assert errors == []


def test_agency_report_in_chromium(run_dirs, tmp_path):
    if _why:
        pytest.fail(f"the browser test must run here (CI): {_why}")
    a, _, _ = run_dirs
    agency = "mzj"
    records = pd.read_parquet(a / "records.parquet")
    other_files = sorted(set(records.loc[records["agency"] != agency, "file"]))
    payload = decode((a / "reports" / f"{agency}.html").read_text(encoding="utf-8"))
    ids = flag_ids(payload)
    f = payload["flags"]
    mixed = next(i for i in range(len(ids)) if not f["full"][i])  # involves another agency's record

    with browser.chromium(WIDTH) as context:
        page = context.new_page()
        errors = browser.watch_console(page)
        browser.open_report(page, a / "reports" / f"{agency}.html")
        assert _count(page) == len(ids)
        _no_horizontal_overflow(page)
        _shot(page, tmp_path, "agency-top")
        page.select_option("#rl-status", "finding")
        assert _count(page) == sum(1 for s in f["status"] if s == 0)
        page.click("#rl-reset")
        assert _search(page, ids[mixed]) == 1
        page.locator("#explorer").scroll_into_view_if_needed()
        _shot(page, tmp_path, "agency-explorer")
        page.click(f"#rl-table tbody tr[data-flag='{ids[mixed]}']")
        page.wait_for_selector("#rl-panel.open")
        text = page.locator("#rl-panel-body").inner_text()
        assert "其他部门的记录" in text and "不显示" in text
        assert not any(name in text for name in other_files)
        width = page.evaluate("document.querySelector('#rl-panel .sheet').scrollWidth")
        assert width <= WIDTH
        _shot(page, tmp_path, "agency-panel")
        assert errors == []
