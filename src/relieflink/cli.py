"""The ``relieflink`` command: a thin layer over the library."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from relieflink import __version__
from relieflink.config import ConfigError
from relieflink.errors import InputRefused, Refused

if TYPE_CHECKING:
    import pandas as pd

    from relieflink.ingest.pipeline import FileReport
    from relieflink.outputs import StagedOutput

EXIT_OK, EXIT_ATTENTION, EXIT_USAGE, EXIT_CONFIG, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED, EXIT_PIPE_CLOSED = 130, 141
#: merges, splits and moves since the previous run printed in the summary (all of them: run.json, changes.parquet)
MAX_CHANGES_PRINTED = 20
DESCRIPTION = ("relieflink: links the agencies' social-assistance records to persons and households and audits them "
               "for duplicate, overlapping and missed relief.")
EXIT_CODES = """\
exit codes:
  0    finished (quarantined cells and rows, and decisions that match nothing,
       are reported in the summary, not failures)
  1    finished, but something needs the operator: a whole file was rejected,
       or the batch held no recognized export or no record (the summary says
       which files and why)
  2    usage error: a missing or invalid argument
  3    configuration error: a file under schemas/ or the decisions file is
       invalid (file and key or line named)
  4    refused: an input folder or file, or the output folder, cannot be used
       as given (nothing was changed)
  5    internal error: a one-line message; the traceback only with --debug
  130  interrupted (Ctrl-C); the output folder was left as it was
  141  the output was piped into a command that stopped reading (e.g. head)
"""


def _print_summary(summary: dict, out_dir: Path) -> None:  # noqa: C901 - a flat list of prints
    print(f"\nrelieflink {__version__}: output in {out_dir}")
    print(f"  files {summary['files']}  {summary['files_by_status']}")
    for copy, original in summary["duplicate_deliveries"].items():
        print(f"  repeated delivery: {copy} = {original} (its rows counted once)")
    print(f"  data rows {summary['data_rows']}  records {summary['records']}  mentions {summary['mentions']}"
          f"  rows quarantined {summary['rows_quarantined']}")
    print("  ID status of mentions: " + ", ".join(f"{k} {v}" for k, v in summary["id_status"].items()))
    if summary["quarantine_by_problem"]:
        print("  quarantine by problem: " + ", ".join(f"{k} {v}" for k, v in summary["quarantine_by_problem"].items()))
    if "persons" in summary:
        print(f"  persons {summary['persons']}  households {summary['households']}")
    if summary.get("audit_period"):
        period = summary["audit_period"]
        how = "derived from the data: the year most payments begin in" if period["derived_from_data"] else "given"
        print(f"  audit period {period['year']} (school year {period['school_year']}; {how})")
    if "flags" in summary:
        print(f"  flags {summary['flags']}  amount at stake (findings, each record once; dismissed flags left out) "
              f"¥{summary['amount_at_stake_findings']:,.2f}")
        _print_flags_by_rule(summary["flags_by_rule"], summary.get("flags_decided", {}))
        if summary.get("held_for_identity_review"):
            print(f"  held as identity questions (not flags; see `relieflink review`): {summary['held_for_identity_review']}")
    for entity, c in summary.get("continuity", {}).items():
        pieces = "mentions" if entity.startswith("person") else "members"
        print(f"  {entity} since the previous run: kept {c['kept']}, new {c['new']}, gone {c['gone']}, "
              f"merged {c['merged']}, split {c['split']}; {pieces} moved between two who both go on "
              f"{c.get('moved', 0)} (changes.parquet)")
    listed = summary.get("continuity_merges_and_splits", [])
    for change in listed[:MAX_CHANGES_PRINTED]:
        print(f"    {change['entity']} {change['change']}: {' + '.join(change['ids_before'])} -> "
              f"{' + '.join(change['ids_after'])}")
    moves = summary.get("continuity_moved", [])
    for move in moves[:max(0, MAX_CHANGES_PRINTED - len(listed))]:
        pieces = "mentions" if move["entity"] == "person" else "members"
        print(f"    {move['entity']} {pieces} moved: {move['id_before']} -> {move['id_after']} ({move['shared']})")
    if len(listed) + len(moves) > MAX_CHANGES_PRINTED:
        print(f"    ... {len(listed) + len(moves) - MAX_CHANGES_PRINTED} more in run.json and changes.parquet")
    if summary.get("decided_flags_with_changed_evidence"):
        print(f"  decided flags whose evidence changed since the decision (decided; evidence changed since): "
              f"{summary['decided_flags_with_changed_evidence']}")
    if summary.get("decisions_unmatched"):
        counts = ", ".join(f"{k} {v}" for k, v in summary["decisions_unmatched"].items())
        print(f"  decisions that match nothing in this run (kept in the file, not applied; see `relieflink review`): "
              f"{counts}")
    if summary.get("applications"):
        a = summary["applications"]
        print(f"  applications recorded by the screening service ({a['file']}): {a['recorded']}; the exports now carry "
              f"{a.get('matched', 0)} (dropped, counted once), {a.get('kept', 0)} kept as records of the approving "
              f"agency, {a['withdrawn']} withdrawn")
    print("  seconds: " + ", ".join(f"{k} {v}" for k, v in summary["seconds"].items()))
    if (out_dir / "report.html").exists():
        print(f"  report: {out_dir / 'report.html'} (workbook report.xlsx, per agency under reports/)")


def _print_flags_by_rule(by_rule: dict[str, int], decided: dict[str, int]) -> None:
    """Per rule: findings, review items, dismissed (on record, not counted), and the reviewers'
    decisions (the summary's ``RULE (state)`` keys)."""
    def split(key: str) -> tuple[str, str]:
        rule, _, state = key.rpartition(" (")
        return rule, state.rstrip(")")

    rows: dict[str, dict[str, int]] = {}
    for key, n in by_rule.items():
        rule, state = split(key)
        rows.setdefault(rule, {})[state] = n
    decisions: dict[str, list[str]] = {}
    for key, n in decided.items():
        rule, decision = split(key)
        decisions.setdefault(rule, []).append(f"{decision} {n}")
    print(f"    {'rule':<24} {'finding':>8} {'review':>8} {'dismissed':>10}  reviewer decisions")
    for rule, n in rows.items():
        print(f"    {rule:<24} {n.get('finding', 0):>8} {n.get('review', 0):>8} {n.get('dismissed', 0):>10}  "
              f"{', '.join(decisions.get(rule, []))}".rstrip())


def needs_operator(files: list[FileReport], records: int) -> list[str]:
    """What a finished run leaves for the operator to fix (exit 1): files rejected whole,
    a batch with no recognized export, or one that gave no record."""
    notes = [f"{f.file}: rejected: {f.message}" for f in files if f.status == "rejected"]
    recognized = [f for f in files if f.status in ("ingested", "duplicate", "rejected")]
    if not files:
        notes.append("the batch folder holds no file; pass the folder that holds the agencies' exports")
    elif not recognized:
        unknown = ", ".join(f.file for f in files[:5]) + (" …" if len(files) > 5 else "")
        notes.append(f"the batch held no recognized export ({unknown}): file names must follow the contract "
                     f"(schemas/sources/), e.g. mzj_低保低边特困.xlsx")
    elif records == 0 and len(notes) < len(recognized):
        notes.append("no record was read from the batch: its exports hold no data rows")
    return notes


def _print_attention(notes: list[str]) -> None:
    if notes:
        print("  needs the operator (exit code 1):")
        for note in notes:
            print(f"    {note}")


def cmd_synth(args: argparse.Namespace) -> int:
    from relieflink.synth import generate_batch

    started = time.perf_counter()
    if not 1 <= args.month <= 12:
        print("error: --month must be between 1 and 12", file=sys.stderr)
        return EXIT_USAGE
    from relieflink.console import Progress

    with Progress(args.quiet) as progress:
        generate_batch(Path(args.out), persons=args.persons, seed=args.seed, profile=args.profile,
                       month=args.month, true_flags=True, on_stage=progress.stage)
    month = f", month {args.month}" if args.month > 1 else ""
    print(f"generated {args.persons} persons (profile {args.profile}, seed {args.seed}{month}) in "
          f"{time.perf_counter() - started:.1f}s: batch in {Path(args.out) / 'batch'}, truth in {Path(args.out) / 'truth'}")
    return EXIT_OK


def _read_key(path: Path) -> bytes:
    key = path.read_bytes().strip() if path.is_file() else b""
    if len(key) < 16:
        raise InputRefused(f"{path} must be a file holding the platform's secret key (at least 16 bytes)")
    return key


def _run(batch: Path, out: Path, stages: tuple[str, ...] = ("ingest", "linkage", "audit"),
         decisions: Path | None = None, pseudonym_key_file: str | None = None, period: int | None = None,
         previous: Path | None = None, target: StagedOutput | None = None,
         applications: Path | None = None, quiet: bool = False, engine: str = "local",
         spark_master: str | None = None) -> int:
    """Run the pipeline into ``out`` (``target``: its preflight, when the caller made it) and print
    the summary; the exit code."""
    from relieflink.console import Progress
    from relieflink.ingest.applications import default_applications_file
    from relieflink.outputs import preflight
    from relieflink.pipeline import run_batch

    try:
        key = _read_key(Path(pseudonym_key_file)) if pseudonym_key_file else None
    except BaseException:
        if target is not None:
            target.abandon()
        raise
    if target is None:
        target = preflight(out, batch)  # refused before any work: nothing read, nothing written
    with Progress(quiet) as progress:
        progress.say(f"relieflink: reading {batch}")
        run = run_batch(batch, target, progress=progress.file, stages=stages,
                        decisions=decisions or default_decisions(out), pseudonym_key=key, period=period,
                        previous=previous, applications=applications or default_applications_file(out),
                        on_stage=progress.stage, engine=engine, spark_master=spark_master)
    summary = run.summary()
    _print_summary(summary, out)
    assert run.ingest is not None
    notes = needs_operator(run.ingest.files, int(summary["records"]))
    _print_attention(notes)
    return EXIT_ATTENTION if notes else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from relieflink.locations import local_path

    return _run(local_path(args.batch), local_path(args.out, "the output folder", output=True),
                decisions=Path(args.decisions) if args.decisions else None,
                pseudonym_key_file=args.pseudonym_key, period=args.period,
                previous=local_path(args.previous, "--previous") if args.previous else None,
                applications=Path(args.applications) if args.applications else None, quiet=args.quiet,
                engine=args.engine, spark_master=args.spark_master)


def cmd_ingest(args: argparse.Namespace) -> int:
    from relieflink.locations import local_path

    return _run(local_path(args.batch), local_path(args.out, "the output folder", output=True), stages=("ingest",),
                decisions=Path(args.decisions) if args.decisions else None,
                applications=Path(args.applications) if args.applications else None, quiet=args.quiet)


def _require_run_folder(out: Path, what: str) -> Path:
    from relieflink.outputs import is_run_folder

    if not is_run_folder(out):
        raise InputRefused(f"{out} is not a run folder (it has no run.json); {what} the output folder of "
                           f"`relieflink run`")
    return out


def cmd_evaluate(args: argparse.Namespace) -> int:
    from relieflink.evaluate import evaluate_run, print_evaluation

    out, truth = _require_run_folder(Path(args.out), "evaluate"), Path(args.truth)
    if not (truth / "truth.json").is_file() or not (truth / "mentions.parquet").is_file():
        hint = f" (did you mean {truth / 'truth'}?)" if (truth / "truth" / "truth.json").is_file() else ""
        raise InputRefused(f"{truth} is not a truth folder{hint}; pass --truth the truth folder that "
                           f"`relieflink synth --out G` writes as G/truth")
    print_evaluation(evaluate_run(out, truth))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from relieflink.outputs import preflight, read_manifest
    from relieflink.synth import generate_batch
    from relieflink.synth.truth import GENERATED_FOLDER

    root = Path(args.dir)
    from relieflink.console import Progress

    generated, out = root / "generated", root / "out"
    # both folders refused or locked before any work: a folder the demo did not write is never replaced
    staged_batch = preflight(generated, kind=GENERATED_FOLDER)
    try:
        staged_out = preflight(out)
    except BaseException:
        staged_batch.abandon()
        raise
    try:
        with Progress(args.quiet) as progress:
            progress.say(f"relieflink demo: generating a batch of {args.persons} persons (seed {args.seed}) in {generated}")
            generate_batch(staged_batch, persons=args.persons, seed=args.seed, profile="default", true_flags=True,
                           on_stage=progress.stage)
    except BaseException:
        staged_out.abandon()
        raise
    status = _run(generated / "batch", out, target=staged_out, quiet=args.quiet)
    manifest = read_manifest(out) or {}
    year = (manifest.get("counts", {}).get("audit_period") or {}).get("year")
    print(f"  compare with the generator's truth: relieflink evaluate {out} --truth {generated / 'truth'}")
    print(f"  review queue: relieflink review {out}")
    if year is not None:  # an application in the audited year (the run's audit period)
        print(f"  screen an application (联审联批): relieflink screen {out} --name NAME --id ID --program MZJ-TK "
              f"--start {year}-06-01")
    return status


def default_decisions(out: Path) -> Path:
    """Decisions live beside the run folder, not in it: every run into ``out`` applies them."""
    return out.resolve().parent / "relieflink-decisions.jsonl"


def _review_context(args: argparse.Namespace, what: str) -> tuple[Path, Path, list, pd.DataFrame | None]:
    """The run folder, the decisions file, its decisions bound to the run's mentions, and those
    mentions (read only when there are decisions). ``what``: the command, for the refusal."""
    from relieflink.linkage.continuity import read_run_mentions
    from relieflink.review import load_decisions
    from relieflink.review.decisions import bind_to_content, needs_binding

    out = _require_run_folder(Path(args.out), what)
    decisions_path = Path(args.decisions) if args.decisions else default_decisions(out)
    decisions = load_decisions(decisions_path)
    mentions = read_run_mentions(out) if decisions else None
    if mentions is not None and needs_binding(decisions):
        decisions = bind_to_content(decisions, mentions)
    return out, decisions_path, decisions, mentions


def _agency_code(text: str | None) -> str | None:
    """An agency or subdistrict given by code (``mzj``, ``jd-hushu``) or by name (区民政局, 湖墅街道)."""
    if text is None:
        return None
    from relieflink.config.catalog import load_catalog

    for agency in load_catalog().agencies:
        if text in (agency.code, agency.name):
            return agency.code
    raise InputRefused(f"{text!r} is not an agency or subdistrict of schemas/programs.yaml; give its code (mzj, "
                       f"jd-hushu, ...) or its name")


def cmd_review(args: argparse.Namespace) -> int:
    from relieflink.outputs import json_text
    from relieflink.privacy import Masker
    from relieflink.review import open_items
    from relieflink.review.show import Filters, identity_sides

    out, decisions_path, decisions, mentions = _review_context(args, "review")
    items = open_items(out, decisions)
    filters = Filters(rule=args.rule, agency=_agency_code(args.agency), subdistrict=_agency_code(args.subdistrict),
                      kind=args.kind)
    chosen = filters.apply(items)
    apart = chosen[chosen["queue"] != "main"]
    # MULTI-SOURCE is its own list: shown when asked for by rule, else summed up in one line
    listing = apart if args.rule is not None and not apart.empty else chosen[chosen["queue"] == "main"]
    shown = listing.head(args.limit)
    sides = identity_sides(out, shown, Masker())
    if args.json:
        rows = []
        for item in shown.to_dict("records"):
            item = {k: (list(v) if isinstance(v, (list, tuple)) or hasattr(v, "tolist") and not isinstance(v, str)
                        else v) for k, v in item.items()}
            if item["kind"] == "identity":
                item["sides"] = sides.get(item["item_id"])
            rows.append(item)
        print(json_text({"out": str(out), "open_items": len(items), "matching": len(chosen), "shown": len(rows),
                         "items": rows}, sort_keys=False))
        return EXIT_OK
    print(f"{len(items)} open items in {out} (decisions: {decisions_path}); {len(chosen)} match the filters, "
          f"ranked by expected money (amount × probability the item is real)")
    from relieflink.config.catalog import load_catalog

    names = {a.code: a.name for a in load_catalog().agencies}
    for item in shown.itertuples(index=False):
        _print_item(item, sides.get(item.item_id), lambda code: names.get(code, code))
    if len(listing) > len(shown):
        print(f"  … {len(listing) - len(shown)} more (--limit)")
    if listing is not apart and not apart.empty:
        total = float(apart["value"].sum())
        rules = ", ".join(sorted(apart["rule_id"].dropna().unique()))
        print(f"  {rules} (多头救助, listed apart): {len(apart)} persons aided by many agencies, ¥{total:,.2f} received; "
              f"list them with `relieflink review {out} --rule {rules.split(', ')[0]}`")
    if decisions:
        _print_unmatched(out, decisions_path, decisions, mentions)
    return EXIT_OK


def _padded(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    import unicodedata

    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - shown)


def _print_item(item, sides: dict | None, name_of) -> None:  # type: ignore[no-untyped-def]
    """One item of `relieflink review`: rank, id, what it is worth; an identity question's two sides."""
    where = "、".join(map(name_of, item.agencies))
    places = [s for s in item.subdistricts if s not in set(item.agencies)]  # a subdistrict's own office named once
    where += f" / {'、'.join(map(name_of, places))}" if places else ""
    if item.kind == "flag":
        print(f"{item.rank:>4}. {item.item_id}  {item.rule_id:<22} ¥{item.expected:>12,.2f} = ¥{item.value:,.2f} × "
              f"{item.p_real:.3f}  [{where}]")
        print(f"        {item.summary}")
        return
    held = isinstance(item.rule_id, str)
    print(f"{item.rank:>4}. {item.item_id}  identity{' (' + item.rule_id + ')' if held else '':<16} "
          f"¥{item.expected:>12,.2f}  p(same)={item.probability:.3f}  [{where}]")
    print(f"        {item.summary}")
    print(f"        {item.left}  ~  {item.right}")
    if sides is None:
        return
    for f in sides["fields"]:
        weight = f"{f['weight']:+7.2f}" if f["weight"] is not None else ""
        print(f"        {_padded(f['field'], 10)}{_padded(f['left'], 24)}{_padded(f['right'], 24)}"
              f"{_padded(f['level'] or '', 12)}{weight}".rstrip())
    if sides["direct_pair"]:
        print(f"        prior {sides['prior']:+.2f} bits; match weight {sides['match_weight']:+.2f} bits "
              f"→ p={sides['probability']:.3f}")
    else:
        print("        (the two were never compared directly: they are joined through other records)")


def _print_unmatched(out: Path, decisions_path: Path, decisions: list, mentions: pd.DataFrame | None) -> None:
    """The decisions that match nothing in the run (either kind): listed, kept in the file, not applied."""
    from relieflink.review import unmatched_in_run

    unmatched = unmatched_in_run(out, decisions, mentions)
    if unmatched:
        many = "decisions match" if len(unmatched) > 1 else "decision matches"
        print(f"{len(unmatched)} {many} nothing in this run (the person left or the pattern ended; kept in "
              f"{decisions_path}, not applied):")
        for u in unmatched:
            print(f"  {u.decision:<18} {u.at}  {u.subject}")


def cmd_report(args: argparse.Namespace) -> int:
    from relieflink.report.after_review import report_after_review

    out = _require_run_folder(Path(args.out), "report on")
    decisions_path = Path(args.decisions) if args.decisions else default_decisions(out)
    key = _read_key(Path(args.pseudonym_key)) if args.pseudonym_key else None
    done = report_after_review(out, decisions_path, pseudonym_key=key)
    print(f"relieflink report: the reports of {out} rewritten in {done.seconds:.1f} s with the decisions in "
          f"{decisions_path} ({done.applied_flag_decisions} flag decisions applied)")
    counts = done.counts
    print(f"  flags {counts['flags']}  amount at stake (findings, each record once; dismissed flags left out) "
          f"¥{counts['amount_at_stake_findings']:,.2f}")
    _print_flags_by_rule(counts["flags_by_rule"], counts.get("flags_decided", {}))
    if done.awaiting_linkage:
        print(f"  {len(done.awaiting_linkage)} identity decisions change who is whom and need a new linkage "
              f"(not applied here): run `relieflink run BATCH --out {out}` again")
        for line in done.awaiting_linkage:
            print(f"    {line}")
    print(f"  report: {out / 'report.html'} (workbook report.xlsx, per agency under reports/)")
    return EXIT_OK


def cmd_decide(args: argparse.Namespace) -> int:
    from relieflink.review import append_decision, decision_on_item, open_items

    for what in ("reviewer", "reason"):
        if not getattr(args, what).strip():
            print(f"error: --{what} must not be empty; say who decides and why", file=sys.stderr)
            return EXIT_USAGE
    out, decisions_path, decisions, _ = _review_context(args, "decide on")
    items = open_items(out, decisions)
    found = items[items["item_id"] == args.item]
    if found.empty:
        print(f"error: {args.item} is not an open item of {out}; list them with `relieflink review {out}`", file=sys.stderr)
        return EXIT_USAGE
    item = found.iloc[0]
    kind = {"confirm": "flag_confirmed", "dismiss": "flag_dismissed", "same": "same_person", "different": "different_persons"}[args.decision]
    if (item["kind"] == "flag") != kind.startswith("flag_"):
        print(f"error: {args.item} is a {item['kind']} item; use "
              f"{'confirm/dismiss' if item['kind'] == 'flag' else 'same/different'}", file=sys.stderr)
        return EXIT_USAGE
    append_decision(decisions_path, decision_on_item(item, kind, args.reviewer, args.reason))  # type: ignore[arg-type]
    print(f"recorded {kind} on {args.item} in {decisions_path}; the next run applies it")
    return EXIT_OK


def cmd_screen(args: argparse.Namespace) -> int:
    from relieflink.outputs import json_text
    from relieflink.screening import Application, ScreeningIndex, screen

    out = _require_run_folder(Path(args.out), "screen against")
    try:
        index = ScreeningIndex.open(out)
    except FileNotFoundError as exc:
        missing = Path(exc.filename).name if exc.filename else "the screening index's tables"
        raise InputRefused(f"{out} lacks {missing}: screen against the output folder of a full `relieflink run` "
                           f"(not `ingest`)") from None
    try:
        result = screen(index, Application(name=args.name, program=args.program, period_start=args.start,
                                           period_end=args.end, id_number=args.id, subdistrict=args.subdistrict,
                                           amount=args.amount, phone=args.phone))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    data = result.to_dict(mask=not args.no_mask)
    if args.json:
        print(json_text(data, sort_keys=False))
        return EXIT_OK
    app = data["application"]
    print(f"申请：{app['name']} {app['id_number'] or '（无身份证号）'} {args.program} {app['period_start']}—{app['period_end'] or ''}"
          f"  身份证号状态：{data['id_status_zh'] or '—'}")
    if not data["matches"]:
        print("未找到匹配人员：上期数据中无此人的救助记录。")
    for m in data["matches"]:
        print(f"匹配：{m['person_id']}  {m['name']} {m['id_number'] or '（无有效身份证号）'}  出生 {m['birth_date'] or '—'}  {m['how_zh']}"
              + (f"  匹配概率 {m['probability']:.4f}" if m["probability"] is not None else ""))
        if m["evidence"]:
            e = m["evidence"]
            print(f"    证据（比特）：先验 {e['prior_weight']:+.2f}；" + "；".join(
                f"{f['comparison']} {f['level']} {f['weight']:+.2f}" for f in e["fields"]) + f"；合计 {e['match_weight']:+.2f}")
        for b in (b for b in data["benefits"] if b["person_id"] == m["person_id"]):
            print(f"    已享受：{b['program_name']}（{b['agency']}）{b['records']}条 {b['first'] or ''}—{b['last'] or '至今'}"
                  + (f" 金额{b['amount']:,.2f}元" if b["amount"] is not None else ""))
    if data["more_name_matches"]:
        print(f"另有 {data['more_name_matches']} 人仅姓名相同，未列出（请提供身份证号）。")
    for c in data["conflicts"]:
        label = "已有预警（批准后仍在）" if c["already_flagged"] else {"finding": "冲突", "review": "冲突（待复核）"}.get(
            c["status"], "可能冲突（若为同一人）")
        print(f"{label}：{c['rule_id']} {c['title_zh']}：{c['explanation_zh']}")
    for e in data["entitlements"]:
        print(f"{'批准后可享受' if e['opened_by_application'] else '可能未享受'}：{e['rule_id']} {e['title_zh']}：{e['explanation_zh']}")
    if data["matches"] and not any(not c["already_flagged"] for c in data["conflicts"]):
        print("批准该申请不产生新的重复、多头或互斥救助。")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from relieflink.service.app import Service, create_app
    except ImportError:
        print("error: the service needs the serve extra: pip install 'relieflink[serve]'", file=sys.stderr)
        return EXIT_USAGE
    from relieflink.config import load_catalog
    from relieflink.ingest.applications import default_applications_file
    from relieflink.service import AUDIT_LOG_FILE
    from relieflink.service.keys import load_keys

    out = _require_run_folder(Path(args.out), "serve")
    keys = load_keys(Path(args.keys), load_catalog())  # a keys file that does not validate: exit 3
    audit_log = Path(args.audit_log) if args.audit_log else out.resolve().parent / AUDIT_LOG_FILE
    applications = Path(args.applications) if args.applications else default_applications_file(out)
    started = time.perf_counter()
    service = Service(out, Path(args.keys), audit_log, applications)
    try:
        service.load()
    except FileNotFoundError:
        raise InputRefused(f"{out} lacks the screening index's tables: serve the output folder of a full "
                           f"`relieflink run` (not `ingest`)") from None
    print(f"relieflink serve: run {out} loaded in {time.perf_counter() - started:.1f}s; {len(keys)} keys "
          f"({args.keys}); audit log {audit_log}; recorded applications {applications}", file=sys.stderr)
    print(f"  listening on http://{args.host}:{args.port} (OpenAPI at /openapi.json); Ctrl-C stops", file=sys.stderr)
    uvicorn.run(create_app(service), host=args.host, port=args.port, log_level="warning", access_log=False)
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    from relieflink.config import load_catalog
    from relieflink.service.keys import load_keys, new_key

    catalog = load_catalog()
    if args.action == "new":
        if not args.agency:
            print("error: keys new needs the AGENCY whose key it is (a source code: mzj, jd-hushu, ...)", file=sys.stderr)
            return EXIT_USAGE
        key = new_key(Path(args.keys), args.agency, catalog, label=args.label, unmasked=args.unmasked)
        print(key)
        print(f"a key for {args.agency}, appended to {args.keys} as its SHA-256; it is shown only now: give it to the "
              f"agency's system (Authorization: Bearer <key>); remove its entry to revoke it", file=sys.stderr)
        return EXIT_OK
    for entry in load_keys(Path(args.keys), catalog):
        print(f"{entry.key_id}  {entry.agency:<16} {str(entry.created or ''):<10}  {'unmasked' if entry.unmasked else 'masked':<8}"
              f"  {entry.label or ''}")
    return EXIT_OK


def _year(text: str) -> int:
    """``--period``: a calendar year (argparse reports anything else as a usage error, exit 2)."""
    if not text.strip().isdigit() or not 1900 <= int(text) <= 2100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year; give the calendar year to audit, e.g. 2016")
    return int(text)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the exit-code table of the epilog as written."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relieflink", description=DESCRIPTION,
                                     epilog=EXIT_CODES, formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"relieflink {__version__}")
    debug_help = "on an internal error, show the traceback (it may contain personal data)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    common = argparse.ArgumentParser(add_help=False)  # --debug after the command too
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True)
    quiet_help = "no progress on stderr (without a terminal, only the per-file ingest lines are written anyway)"

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[common], epilog=EXIT_CODES, formatter_class=_HelpFormatter)

    p = command("demo", "generate a realistic batch and run it end to end")
    p.add_argument("--dir", default="relieflink-demo", help="folder for the generated batch and the run (default: %(default)s)")
    p.add_argument("--persons", type=int, default=20000, help="persons in the generated population (default: %(default)s)")
    p.add_argument("--seed", type=int, default=2015, help="random seed (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help=quiet_help)
    p.set_defaults(func=cmd_demo)

    p = command("synth", "write a synthetic batch in the agencies' export formats, with ground truth")
    p.add_argument("--persons", type=int, required=True, help="persons in the generated population")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--out", required=True, help="folder: OUT/batch holds the exports, OUT/truth the ground truth")
    p.add_argument("--profile", choices=["clean", "default", "hard"], default="default",
                   help="how damaged the exports are (default: %(default)s)")
    p.add_argument("--month", type=int, default=1,
                   help="1: the batch as first exported; N: the same population's ledgers N-1 months later "
                        "(persons left, moved and arrived, rows reordered, a file renamed; same true person ids)")
    p.add_argument("--quiet", action="store_true", help=quiet_help)
    p.set_defaults(func=cmd_synth)

    for name, help_text, func in (
        ("ingest", "read a batch folder into mentions, records and quarantine", cmd_ingest),
        ("run", "run the pipeline (ingest, linkage, audit) on a batch folder", cmd_run),
    ):
        p = command(name, help_text)
        p.add_argument("batch", help="folder holding the agencies' export files")
        p.add_argument("--out", required=True,
                       help="output folder: absent, empty, or written by an earlier run (then replaced in one "
                            "step); never the batch folder, inside it or around it")
        p.add_argument("--decisions", help="reviewer decisions to apply (default: relieflink-decisions.jsonl beside OUT)")
        p.add_argument("--applications", metavar="FILE",
                       help="applications recorded by the screening service since the last run (default: "
                            "relieflink-applications.jsonl beside OUT): records of the approving agency, dropped "
                            "where the exports now carry the grant")
        p.add_argument("--quiet", action="store_true", help=quiet_help)
        if name == "run":
            p.add_argument("--period", type=_year, metavar="YEAR",
                           help="calendar year to audit (the school year from 1 September of it); default: derived "
                                "from the data, the year in which most payment and service records begin")
            p.add_argument("--pseudonym-key", metavar="FILE",
                           help="reports carry keyed ID pseudonyms (HMAC-SHA256 under the secret key in FILE) "
                                "instead of masked IDs, the same in every run made with the key")
            p.add_argument("--previous", metavar="PREV_OUT",
                           help="last month's output folder: persons and households already known keep their ids "
                                "(by shared IDs and row content, never row numbers); changes.parquet lists "
                                "merges and splits since")
            p.add_argument("--engine", choices=("local", "spark"), default="local",
                           help="where the linkage's pair stages run: this process (default) or Apache Spark, "
                                "with the same outputs (needs the spark extra; docs/spark.md)")
            p.add_argument("--spark-master", metavar="URL",
                           help="Spark master of --engine spark (default local[*]; under spark-submit, its --master)")
        p.set_defaults(func=func)

    p = command("review", "list the open review items of a run, ranked by the money at stake")
    p.add_argument("out", help="the run's output folder")
    p.add_argument("--decisions", help="decisions file (default: relieflink-decisions.jsonl beside OUT)")
    p.add_argument("--rule", help="only items of this rule (MULTI-SOURCE: its list of persons aided by many agencies)")
    p.add_argument("--agency", help="only items involving this agency or subdistrict (code or name: mzj, 区民政局)")
    p.add_argument("--subdistrict", help="only items in this subdistrict (code or name: jd-hushu, 湖墅街道)")
    p.add_argument("--kind", choices=["identity", "flag"], help="only identity questions, or only flags")
    p.add_argument("--limit", type=int, default=50, help="items to show (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the items as JSON (identity items with both sides)")
    p.set_defaults(func=cmd_review)

    p = command("report", "rewrite a run's reports with the reviewers' decisions, without a rerun")
    p.add_argument("out", help="the run's output folder (replaced as a whole, atomically)")
    p.add_argument("--decisions", help="decisions file (default: relieflink-decisions.jsonl beside OUT)")
    p.add_argument("--pseudonym-key", metavar="FILE",
                   help="reports carry keyed ID pseudonyms (as `relieflink run --pseudonym-key`)")
    p.set_defaults(func=cmd_report)

    p = command("decide", "record a reviewer decision on an open item")
    p.add_argument("out", help="the run's output folder")
    p.add_argument("item", help="item id from `relieflink review`")
    p.add_argument("--decision", required=True, choices=["confirm", "dismiss", "same", "different"])
    p.add_argument("--reviewer", required=True, help="who decides")
    p.add_argument("--reason", required=True, help="why (kept with the decision)")
    p.add_argument("--decisions", help="decisions file (default: relieflink-decisions.jsonl beside OUT)")
    p.set_defaults(func=cmd_decide)

    p = command("screen", "screen an application (联审联批) against a run: who, what they receive, conflicts")
    p.add_argument("out", help="the output folder of the last `relieflink run`")
    p.add_argument("--name", required=True, help="applicant's name (may be empty when --id is given)")
    p.add_argument("--id", help="applicant's resident ID")
    p.add_argument("--program", required=True, help="program code applied for (schemas/programs.yaml, e.g. MZJ-DB)")
    p.add_argument("--start", required=True, help="first day of the period applied for (YYYY-MM-DD)")
    p.add_argument("--end", help="last day (default: the start: one month of a monthly benefit, the day of a grant)")
    p.add_argument("--subdistrict", help="subdistrict code of the application (jd-hushu, ...)")
    p.add_argument("--amount", type=float, help="amount applied for, in yuan (0 or more)")
    p.add_argument("--phone", help="applicant's phone (linkage evidence for the match probability)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (an unknown number is null)")
    p.add_argument("--no-mask", action="store_true", help="show full names and IDs (authorized staff only)")
    p.set_defaults(func=cmd_screen)

    p = command("serve", "serve screening (联审联批) over HTTP to agency systems, each with its own key")
    p.add_argument("out", help="the output folder of the last `relieflink run` (a new run written into it is "
                               "loaded without a restart)")
    p.add_argument("--keys", required=True, metavar="KEYS.yaml",
                   help="the agencies' keys, by SHA-256 (`relieflink keys new`); read again when it changes")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8765, help="port (default: %(default)s)")
    p.add_argument("--audit-log", metavar="FILE",
                   help="one JSON line per request (default: relieflink-audit-log.jsonl beside OUT)")
    p.add_argument("--applications", metavar="FILE",
                   help="recorded approvals (default: relieflink-applications.jsonl beside OUT, where `relieflink "
                        "run` looks for them)")
    p.set_defaults(func=cmd_serve)

    p = command("keys", "make or list the agencies' keys of the screening service")
    p.add_argument("action", choices=["new", "list"], help="new: make a key for AGENCY and print it once; list: "
                                                           "the keys of the file (by id, never the key)")
    p.add_argument("agency", nargs="?", help="with new: the agency's source code (mzj, jd-hushu, ...)")
    p.add_argument("--keys", required=True, metavar="KEYS.yaml", help="the keys file (created by the first `new`)")
    p.add_argument("--label", help="with new: a note for people (the agency's system)")
    p.add_argument("--unmasked", action="store_true", help="with new: this key's answers show names and IDs in clear")
    p.set_defaults(func=cmd_keys)

    p = command("evaluate", "compare a run folder with a generated batch's truth")
    p.add_argument("out", help="the run's output folder")
    p.add_argument("--truth", required=True, help="the truth folder written by `relieflink synth` (OUT/truth)")
    p.set_defaults(func=cmd_evaluate)
    return parser


def internal_error(exc: BaseException) -> str:
    """One line for an unexpected exception: its type and where it was raised in relieflink,
    never its text (a message raised on a cell can carry the cell's value: personal data)."""
    package = Path(__file__).resolve().parent
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            rel = Path(frame.filename).resolve().relative_to(package)
        except ValueError:
            continue
        stage = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        where = f" in {stage} (relieflink/{rel.as_posix()}:{frame.lineno}, {frame.name})"
    return f"internal error: {type(exc).__name__}{where}; rerun with --debug for the traceback"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # the output was piped into a command that stopped reading (`| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt:
        print("relieflink: interrupted; the output folder was left as it was", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        print(internal_error(exc), file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
