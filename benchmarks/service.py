"""HTTP latency of the screening service (``relieflink serve``) on localhost, under a bounded load.

How the figures are produced: ``relieflink serve RUN`` is started as its own
process (uvicorn, one worker, the machine's 2 cores shared with the client
and anything else running) with a fresh key whose rate limit is lifted and a
recorded-applications file of its own (empty). Applications are drawn from
the run's persons with a fixed seed, as ``benchmarks/screening.py`` draws
them: a third with the person's valid ID, a third with that ID one digit
mistyped, a third by name only; programs cycle through 低保, 特困, 医保补贴,
护理补贴, 临时救助 for June–December 2015. For each concurrency (1, 8, 32) an
httpx2 async client keeps that many requests in flight until a fixed number
of requests is done or a time limit passes, whichever comes first; it prints
p50 and p99 latency (ms, as the client sees it), requests per second, and
the server's CPU time per request (from /proc). The alternatives on the same
data in the same run: the library call itself, in this process, on the same
applications (what the HTTP layer adds to it), the same after 20 recorded
approvals joined the index (and the median wall and CPU time of that join, paid
once per change of the recorded-applications file), and requests that match no one
(an unknown name and ID: no audit engine; the service's own cost). The
server's index load time and resident memory are printed too.

    python benchmarks/service.py --run R [--requests 400] [--seconds 60] [--library 100]

Needs ``pip install -e '.[test]'`` (the serve extra and httpx2).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

PROGRAMS = ["MZJ-DB", "MZJ-TK", "JD-YBBT", "CL-HLBT", "JD-LSJZ"]


def applications(run: Path, n: int, seed: int = 7) -> list[dict]:
    persons = pd.read_parquet(run / "persons.parquet", columns=["name", "id_number"])
    people = persons[persons["id_number"].notna()]
    chosen = people.iloc[np.random.default_rng(seed).choice(len(people), n, replace=False)]
    out = []
    for i, p in enumerate(chosen.itertuples(index=False)):
        kind = i % 3
        id_number = p.id_number if kind == 0 else (p.id_number[:15] + str((int(p.id_number[15]) + 1) % 10) + p.id_number[16:]
                                                   if kind == 1 else None)
        body = {"name": p.name, "program": PROGRAMS[i % len(PROGRAMS)], "period_start": "2015-06-01",
                "period_end": "2015-12-31", "subdistrict": "jd-hushu"}
        if id_number:
            body["id_number"] = id_number
        out.append(body)
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(base: str, key: str, bodies: list[dict], concurrency: int, requests: int, seconds: float,
               expected: int = 200) -> tuple[np.ndarray, float, int]:
    """Latencies (ms), wall seconds and the number of answers whose status is not ``expected``."""
    import httpx2 as httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=60) as client:
        async def worker() -> None:
            nonlocal errors
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                t = time.perf_counter()
                res = await client.post("/v1/screen", json=bodies[i % len(bodies)])
                latencies.append((time.perf_counter() - t) * 1000)
                errors += res.status_code != expected

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return np.array(latencies), wall, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a `relieflink run` output folder")
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=60, help="time limit per level (default: %(default)s)")
    parser.add_argument("--library", type=int, default=100, help="applications for the in-process library call "
                                                                "(default: %(default)s; 0: none, one index in memory)")
    args = parser.parse_args()

    import httpx2 as httpx

    from relieflink.config import load_catalog
    from relieflink.service.keys import key_hash

    work = Path(tempfile.mkdtemp(prefix="relieflink-bench-service-"))
    key = "bench-" + os.urandom(16).hex()
    (work / "keys.yaml").write_text(f"- agency: jd-hushu\n  key_sha256: {key_hash(key)}\n"
                                    f"  requests_per_minute: 100000000\n  name_only_per_minute: 100000000\n")
    load_catalog()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "relieflink", "serve", str(args.run), "--keys", str(work / "keys.yaml"),
                               "--port", str(port), "--audit-log", str(work / "audit.jsonl"),
                               "--applications", str(work / "applications.jsonl")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if server.poll() is not None:
                sys.exit(server.stderr.read().decode())
            try:
                if httpx.get(base + "/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        print(f"server up (index loaded, listening) in {time.perf_counter() - started:.1f} s; "
              f"resident {rss_mib(server.pid):,.0f} MiB; uvicorn, 1 worker, pid {server.pid}; {os.cpu_count()} cores")
        bodies = applications(args.run, 300)
        unknown = [{"name": "欧阳无名氏", "id_number": "11010519491231002X", "program": p, "period_start": "2015-06-01"}
                   for p in PROGRAMS]

        if args.library:  # the library call on the same applications, in this process, through the adapter
            from relieflink.service.screening import answer, as_application, load_index
            from relieflink.visibility import Scope

            index = load_index(args.run)
            lib = []
            for body in bodies[:args.library]:
                t = time.perf_counter()
                answer(index, as_application(body), Scope("jd-hushu"), mask=True, max_candidates=5)
                lib.append((time.perf_counter() - t) * 1000)
            lib_ms = np.array(lib)
            print(f"library call (service.screening.answer) in-process, {len(lib_ms)} applications: p50 {np.percentile(lib_ms, 50):.1f} ms, "
                  f"p99 {np.percentile(lib_ms, 99):.1f} ms")
            # recorded approvals join the index once per change of the file (service.screening.record_approvals)
            from relieflink.ingest.pipeline import IngestConfig
            from relieflink.service.screening import record_approvals
            from relieflink.service.store import ApplicationStore

            store, config = ApplicationStore(work / "bench-applications.jsonl"), IngestConfig.load()
            for i, body in enumerate(bodies[:20]):
                store.record("mzj", f"bench-{i}", {**body, "program": "MZJ-DB"})
            joins = []
            for _ in range(5):
                t, c = time.perf_counter(), time.process_time()
                recorded = record_approvals(index, store.standing(0), config)
                joins.append((time.perf_counter() - t, time.process_time() - c))
            wall_s, cpu_s = np.median(np.array(joins), axis=0)
            print(f"recorded approvals joined to the index ({len(recorded)} approvals, 5 times): median {wall_s:.2f} s wall, "
                  f"{cpu_s:.2f} s CPU; then the answer on it:")
            lib = []
            for body in bodies[:args.library]:
                t = time.perf_counter()
                answer(index, as_application(body), Scope("jd-hushu"), mask=True, max_candidates=5, recorded=recorded)
                lib.append((time.perf_counter() - t) * 1000)
            print(f"library call with the approvals joined, {len(lib)} applications: p50 {np.percentile(lib, 50):.1f} ms, "
                  f"p99 {np.percentile(lib, 99):.1f} ms")
            del index, recorded

        refused = [{**body, "program": "NO-SUCH-PROGRAM"} for body in bodies[:50]]
        for label, sample, expected in (("applications of the run's persons", bodies, 200),
                                        ("applicant unknown (no audit)", unknown, 200),
                                        ("refused by validation (422)", refused, 422)):
            for concurrency in (1, 8, 32):
                cpu0 = cpu_seconds(server.pid)
                ms, wall, errors = asyncio.run(load(base, key, sample, concurrency, args.requests, args.seconds,
                                                    expected))
                cpu = cpu_seconds(server.pid) - cpu0
                print(f"{label:<36} concurrency {concurrency:>2}: n {len(ms):>5}  p50 {np.percentile(ms, 50):7.1f} ms  "
                      f"p99 {np.percentile(ms, 99):7.1f} ms  {len(ms) / wall:7.1f} req/s  "
                      f"server CPU {cpu / max(len(ms), 1) * 1000:6.1f} ms/req  unexpected status {errors}")
        print(f"server resident memory after the load: {rss_mib(server.pid):,.0f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
