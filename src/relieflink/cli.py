"""The ``relieflink`` command: a thin layer over the library.

Exit codes: 0 success (quarantined rows and decisions that match nothing are
reported, not failures); 2 usage error; 3 configuration error (a YAML file
under schemas/ or the decisions file is invalid); 4 input error (the batch
folder, the run folder or --previous does not exist or is not what it must be).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from relieflink import __version__
from relieflink.config import ConfigError

EXIT_OK, EXIT_USAGE, EXIT_CONFIG, EXIT_INPUT = 0, 2, 3, 4


def _progress(report) -> None:  # type: ignore[no-untyped-def]
    status = report.status if report.status != "duplicate" else f"duplicate of {report.duplicate_of}"
    print(
        f"  {report.file:<34} {status:<12} rows {report.data_rows:>8}  records {report.records:>8}"
        f"  quarantined {report.rows_quarantined:>6}  {report.seconds:>6.2f}s",
        file=sys.stderr,
    )


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
    if "flags" in summary:
        print(f"  flags {summary['flags']}  amount at stake (findings) ¥{summary['amount_at_stake_findings']:,.2f}")
        for rule, n in summary["flags_by_rule"].items():
            print(f"    {rule:<40} {n:>7}")
        if summary.get("held_for_identity_review"):
            print(f"  held as identity questions (not flags; see `relieflink review`): {summary['held_for_identity_review']}")
    _print_continuity(summary)
    print("  seconds: " + ", ".join(f"{k} {v}" for k, v in summary["seconds"].items()))
    if (out_dir / "report.html").exists():
        print(f"  report: {out_dir / 'report.html'} (workbook report.xlsx, per agency under reports/)")


def _print_continuity(summary: dict) -> None:
    """Ids carried over from the previous run, and decisions that match nothing."""
    for entity, c in summary.get("continuity", {}).items():
        print(f"  {entity} since the previous run: kept {c['kept']}, new {c['new']}, gone {c['gone']}, "
              f"merged {c['merged']}, split {c['split']} (changes.parquet)")
    if summary.get("decisions_unmatched"):
        counts = ", ".join(f"{k} {v}" for k, v in summary["decisions_unmatched"].items())
        print(f"  decisions that match nothing in this batch (kept, not applied; see `relieflink review`): {counts}")


def cmd_synth(args: argparse.Namespace) -> int:
    from relieflink.synth import generate_batch

    from relieflink.audit.truth import write_true_flags

    started = time.perf_counter()
    if not 1 <= args.month <= 12:
        print("error: --month must be between 1 and 12", file=sys.stderr)
        return EXIT_USAGE
    summary = generate_batch(Path(args.out), persons=args.persons, seed=args.seed, profile=args.profile,
                             month=args.month)
    write_true_flags(Path(args.out))
    month = f", month {args.month}" if args.month > 1 else ""
    print(f"generated {args.persons} persons (profile {args.profile}, seed {args.seed}{month}) in "
          f"{time.perf_counter() - started:.1f}s: batch in {Path(args.out) / 'batch'}, truth in {Path(args.out) / 'truth'}")
    del summary
    return EXIT_OK


def _run(batch: Path, out: Path, stages: tuple[str, ...] = ("ingest", "linkage", "audit"),
         decisions: Path | None = None, pseudonym_key_file: str | None = None, previous: Path | None = None) -> int:
    from relieflink.linkage.continuity import PreviousRunError
    from relieflink.pipeline import run_batch

    if not batch.is_dir():
        print(f"error: {batch} is not a folder; pass the folder that holds the agencies' exports", file=sys.stderr)
        return EXIT_INPUT
    key = None
    if pseudonym_key_file:
        key_path = Path(pseudonym_key_file)
        key = key_path.read_bytes().strip() if key_path.is_file() else b""
        if len(key) < 16:
            print(f"error: {key_path} must be a file holding the platform's secret key (at least 16 bytes)",
                  file=sys.stderr)
            return EXIT_INPUT
    print(f"relieflink: reading {batch}", file=sys.stderr)
    try:
        run = run_batch(batch, out, progress=_progress, stages=stages, decisions=decisions or default_decisions(out),
                        pseudonym_key=key, previous=previous)
    except PreviousRunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    _print_summary(run.summary(), out)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    return _run(Path(args.batch), Path(args.out), decisions=Path(args.decisions) if args.decisions else None,
                pseudonym_key_file=args.pseudonym_key, previous=Path(args.previous) if args.previous else None)


def cmd_ingest(args: argparse.Namespace) -> int:
    return _run(Path(args.batch), Path(args.out), stages=("ingest",))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from relieflink.evaluate import evaluate_run, print_evaluation

    out, truth = Path(args.out), Path(args.truth)
    for folder in (out, truth):
        if not folder.is_dir():
            print(f"error: {folder} is not a folder", file=sys.stderr)
            return EXIT_INPUT
    print_evaluation(evaluate_run(out, truth))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from relieflink.synth import generate_batch

    root = Path(args.dir)
    print(f"relieflink demo: generating a batch of {args.persons} persons (seed {args.seed}) in {root}", file=sys.stderr)
    from relieflink.audit.truth import write_true_flags

    generate_batch(root / "generated", persons=args.persons, seed=args.seed, profile="default")
    write_true_flags(root / "generated")
    status = _run(root / "generated" / "batch", root / "out")
    print(f"  compare with the generator's truth: relieflink evaluate {root / 'out'} --truth {root / 'generated' / 'truth'}")
    print(f"  review queue: relieflink review {root / 'out'}")
    print(f"  screen an application (联审联批): relieflink screen {root / 'out'} --name NAME --id ID --program MZJ-TK "
          "--start 2015-06-01")
    return status


def default_decisions(out: Path) -> Path:
    """Decisions live beside the run folder, not in it: every run into ``out`` applies them."""
    return out.resolve().parent / "relieflink-decisions.jsonl"


def _review_context(args: argparse.Namespace) -> tuple[Path, Path, list, object] | int:
    """The run folder, the decisions file, its decisions bound to the run's mentions, and those
    mentions (read only when there are decisions); or an exit code."""
    from relieflink.linkage.continuity import read_run_mentions
    from relieflink.review import load_decisions
    from relieflink.review.decisions import bind_to_content, needs_binding

    out = Path(args.out)
    if not (out / "run.json").is_file():
        print(f"error: {out} is not a run folder (no run.json); pass the output folder of `relieflink run`",
              file=sys.stderr)
        return EXIT_INPUT
    decisions_path = Path(args.decisions) if args.decisions else default_decisions(out)
    decisions = load_decisions(decisions_path)
    mentions = read_run_mentions(out) if decisions else None
    if mentions is not None and needs_binding(decisions):
        decisions = bind_to_content(decisions, mentions)
    return out, decisions_path, decisions, mentions


def cmd_review(args: argparse.Namespace) -> int:
    import pandas as pd

    from relieflink.review import open_items
    from relieflink.review.apply import unmatched_decisions

    context = _review_context(args)
    if isinstance(context, int):
        return context
    out, decisions_path, decisions, mentions = context
    items = open_items(out, decisions)
    print(f"{len(items)} open items in {out} (decisions: {decisions_path})")
    shown = items.head(args.limit)
    for item in shown.itertuples(index=False):
        if item.kind == "flag":
            print(f"  {item.item_id}  {item.rule_id:<24} {item.summary}")
        else:
            print(f"  {item.item_id}  identity  p={item.probability:.3f}  {item.left}  ~  {item.right}")
            if isinstance(item.rule_id, str):  # a held pattern: what the link would make a finding
                print(f"      {item.rule_id}: {item.summary}")
    if len(items) > len(shown):
        print(f"  … {len(items) - len(shown)} more (--limit)")
    if decisions:
        flags_path = out / "flags.parquet"
        fingerprints = mentions["fingerprint"] if mentions is not None else None
        flag_ids = pd.read_parquet(flags_path, columns=["flag_id"])["flag_id"] if flags_path.is_file() else None
        unmatched = unmatched_decisions(decisions, fingerprints, flag_ids)
        if unmatched:
            many = "decisions match" if len(unmatched) > 1 else "decision matches"
            print(f"{len(unmatched)} {many} nothing in this run (kept in {decisions_path}, not applied):")
            for u in unmatched:
                print(f"  {u.decision:<18} {u.at}  {u.subject}")
    return EXIT_OK


def cmd_decide(args: argparse.Namespace) -> int:
    from relieflink.review import Decision, append_decision, open_items
    from relieflink.review.decisions import MentionKey

    for what in ("reviewer", "reason"):
        if not getattr(args, what).strip():
            print(f"error: --{what} must not be empty; say who decides and why", file=sys.stderr)
            return EXIT_USAGE
    context = _review_context(args)
    if isinstance(context, int):
        return context
    out, decisions_path, decisions, _ = context
    items = open_items(out, decisions).set_index("item_id")
    if args.item not in items.index:
        print(f"error: {args.item} is not an open item of {out}; list them with `relieflink review {out}`", file=sys.stderr)
        return EXIT_USAGE
    item = items.loc[args.item]
    kind = {"confirm": "flag_confirmed", "dismiss": "flag_dismissed", "same": "same_person", "different": "different_persons"}[args.decision]
    if (item["kind"] == "flag") != kind.startswith("flag_"):
        print(f"error: {args.item} is a {item['kind']} item; use "
              f"{'confirm/dismiss' if item['kind'] == 'flag' else 'same/different'}", file=sys.stderr)
        return EXIT_USAGE
    if item["kind"] == "flag":
        decision = Decision(kind, args.reviewer, args.reason, flag_id=args.item)
    else:
        def key(seen: str, fingerprint: object) -> MentionKey:
            file, row, role = seen.rsplit("|", 2)
            bound = fingerprint if isinstance(fingerprint, str) and fingerprint != seen else None
            return MentionKey(file, int(row), role, fingerprint=bound)

        decision = Decision(kind, args.reviewer, args.reason,
                            mentions=(key(item["left"], item["left_key"]), key(item["right"], item["right_key"])))
    append_decision(decisions_path, decision)
    print(f"recorded {kind} on {args.item} in {decisions_path}; the next run applies it")
    return EXIT_OK


def cmd_screen(args: argparse.Namespace) -> int:
    import json

    from relieflink.screening import Application, ScreeningIndex, screen

    out = Path(args.out)
    if not out.is_dir():
        print(f"error: {out} is not a folder; screen against the output folder of `relieflink run`", file=sys.stderr)
        return EXIT_INPUT
    try:
        index = ScreeningIndex.from_run(out)
        result = screen(index, Application(name=args.name, program=args.program, period_start=args.start,
                                           period_end=args.end, id_number=args.id, subdistrict=args.subdistrict,
                                           amount=args.amount))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    data = result.to_dict(mask=not args.no_mask)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK
    app = data["application"]
    print(f"申请：{app['name']} {app['id_number'] or '（无身份证号）'} {args.program} {app['period_start']}—{app['period_end'] or ''}"
          f"  身份证号状态：{data['id_status'] or '—'}")
    if not data["matches"]:
        print("未找到匹配人员：上期数据中无此人的救助记录。")
    for m in data["matches"]:
        print(f"匹配：{m['person_id']}  {m['name']} {m['id_number'] or '（无有效身份证号）'}  出生 {m['birth_date'] or '—'}  {m['how_zh']}")
        for b in (b for b in data["benefits"] if b["person_id"] == m["person_id"]):
            print(f"    已享受：{b['program_name']}（{b['agency']}）{b['records']}条 {b['first'] or ''}—{b['last'] or '至今'}"
                  f" 金额{b['amount']:,.2f}元")
    if data["more_name_matches"]:
        print(f"另有 {data['more_name_matches']} 人仅姓名相同，未列出（请提供身份证号）。")
    for c in data["conflicts"]:
        label = "已有预警（批准后仍在）" if c["already_flagged"] else {"finding": "冲突", "review": "冲突（待复核）"}.get(
            c["status"], "可能冲突（若为同一人）")
        print(f"{label}：{c['rule_id']} {c['title_zh']}：{c['explanation_zh']}")
    if data["matches"] and not any(not c["already_flagged"] for c in data["conflicts"]):
        print("批准该申请不产生新的重复、多头或互斥救助。")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relieflink", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"relieflink {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="generate a realistic batch and run it end to end")
    p.add_argument("--dir", default="relieflink-demo", help="folder for the generated batch and the run (default: %(default)s)")
    p.add_argument("--persons", type=int, default=20000, help="persons in the generated population (default: %(default)s)")
    p.add_argument("--seed", type=int, default=2015, help="random seed (default: %(default)s)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("synth", help="write a synthetic batch in the agencies' export formats, with ground truth")
    p.add_argument("--persons", type=int, required=True, help="persons in the generated population")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--out", required=True, help="folder: OUT/batch holds the exports, OUT/truth the ground truth")
    p.add_argument("--profile", choices=["clean", "default", "hard"], default="default",
                   help="how damaged the exports are (default: %(default)s)")
    p.add_argument("--month", type=int, default=1,
                   help="1: the batch as first exported; N: the same population's ledgers N-1 months later "
                        "(persons left, moved and arrived, rows reordered, a file renamed; same true person ids)")
    p.set_defaults(func=cmd_synth)

    for name, help_text, func in (
        ("ingest", "read a batch folder into mentions, records and quarantine", cmd_ingest),
        ("run", "run the pipeline (ingest, linkage, audit) on a batch folder", cmd_run),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("batch", help="folder holding the agencies' export files")
        p.add_argument("--out", required=True, help="output folder (replaced atomically)")
        p.add_argument("--decisions", help="reviewer decisions to apply (default: relieflink-decisions.jsonl beside OUT)")
        if name == "run":
            p.add_argument("--pseudonym-key", metavar="FILE",
                           help="reports carry keyed ID pseudonyms (HMAC-SHA256 under the secret key in FILE) "
                                "instead of masked IDs, the same in every run made with the key")
            p.add_argument("--previous", metavar="PREV_OUT",
                           help="last month's output folder: persons and households already known keep their ids "
                                "(by shared IDs and row content, never row numbers); changes.parquet lists "
                                "merges and splits since")
        p.set_defaults(func=func)

    p = sub.add_parser("review", help="list the open review items of a run")
    p.add_argument("out", help="the run's output folder")
    p.add_argument("--decisions", help="decisions file (default: relieflink-decisions.jsonl beside OUT)")
    p.add_argument("--limit", type=int, default=50, help="items to show (default: %(default)s)")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("decide", help="record a reviewer decision on an open item")
    p.add_argument("out", help="the run's output folder")
    p.add_argument("item", help="item id from `relieflink review`")
    p.add_argument("--decision", required=True, choices=["confirm", "dismiss", "same", "different"])
    p.add_argument("--reviewer", required=True, help="who decides")
    p.add_argument("--reason", required=True, help="why (kept with the decision)")
    p.add_argument("--decisions", help="decisions file (default: relieflink-decisions.jsonl beside OUT)")
    p.set_defaults(func=cmd_decide)

    p = sub.add_parser("screen", help="screen an application (联审联批) against a run: who, what they receive, conflicts")
    p.add_argument("out", help="the output folder of the last `relieflink run`")
    p.add_argument("--name", required=True, help="applicant's name")
    p.add_argument("--id", help="applicant's resident ID")
    p.add_argument("--program", required=True, help="program code applied for (schemas/programs.yaml, e.g. MZJ-DB)")
    p.add_argument("--start", required=True, help="first day of the period applied for (YYYY-MM-DD)")
    p.add_argument("--end", help="last day (default: the start: one month of a monthly benefit, the day of a grant)")
    p.add_argument("--subdistrict", help="subdistrict code of the application (jd-hushu, ...)")
    p.add_argument("--amount", type=float, help="amount applied for, in yuan")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-mask", action="store_true", help="show full names and IDs (authorized staff only)")
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser("evaluate", help="compare a run folder with a generated batch's truth")
    p.add_argument("out", help="the run's output folder")
    p.add_argument("--truth", required=True, help="the truth folder written by `relieflink synth` (OUT/truth)")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
