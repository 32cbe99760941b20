"""Search at scale: suggestion latency, index build time, database size and peak memory at 10k, 100k and 1M questions,
each beside brute-force rapidfuzz over the same corpus, measured in the same run.

Each measurement runs in a fresh process (so peak RSS is its own): "build" opens the tantivy index on a database
that has none (it rebuilds) and rebuilds FTS5; "serve" answers suggestion requests through bot.search.suggest with
a short session each, as a handler does; "brute" scores every title with rapidfuzz, as a bot without an index would.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.search_corpus import PUBLIC, START, TEAM, fill, paraphrase, question  # vocabulary: on first use

SIZES = {"small": (10_000, 100_000), "full": (10_000, 100_000, 1_000_000)}
QUERIES = 200  # suggestions timed per engine and size, after 20 to warm up
TARGET_P95_MS, TARGET_SPEEDUP, TARGET_RSS_MB = 25.0, 50.0, 300.0


def _memory() -> dict[str, float]:
    """Peak RSS of this process, and what is resident now by kind (anonymous, or file pages such as the index's
    mmapped segments). Not ru_maxrss: Linux carries it across exec, from the parent that forked us."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    kb = {k: int(status[k].split()[0]) for k in ("VmHWM", "RssAnon", "RssFile") if k in status}
    if "VmHWM" not in kb:
        kb["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rss_mb": kb["VmHWM"] / 1024,
        "anon_mb": kb.get("RssAnon", 0) / 1024,
        "file_mb": kb.get("RssFile", 0) / 1024,
    }


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def queries(n: int, count: int) -> list[tuple[str, int]]:
    """Half near-duplicates of stored questions (with the one they copy), half questions never asked."""
    rng = random.Random(n)
    out = []
    for j in range(count):
        if j % 2 == 0:
            i = rng.randint(1, n)
            while not _useful(i):  # copy one the bot may offer: answered, in public, in our workspace
                i = rng.randint(1, n)
            out.append((paraphrase(i, salt=j), i))
        else:
            out.append((question(n + 1 + j).text, 0))
    return out


def _useful(i: int) -> bool:
    g = question(i)
    best = max(((accepted, sum(votes)) for accepted, votes in g.answers), default=None)
    return g.team == TEAM and not g.private and best is not None and (best[0] or best[1] >= 0)


def build(db: Path, index: Path) -> dict[str, float]:
    from storage.db import make_engine
    from storage.fulltext import DatabaseIndex, open_index

    engine = make_engine(f"sqlite:///{db}")
    started = time.perf_counter()
    open_index(engine, kind="tantivy", path=index).close()  # no index yet: it rebuilds from the database
    tantivy_s = time.perf_counter() - started
    started = time.perf_counter()
    DatabaseIndex(engine).rebuild()
    return {"tantivy_s": tantivy_s, "fts5_s": time.perf_counter() - started, **_memory()}


def serve(db: Path, index: Path, kind: str, n: int, asked: list[tuple[str, int]]) -> dict[str, float]:
    from bot.search import suggest
    from storage.db import make_engine, session_factory
    from storage.fulltext import open_index

    engine = make_engine(f"sqlite:///{db}")
    idx = open_index(engine, kind=kind, path=index if kind == "tantivy" else None)
    sessions = session_factory(engine)
    times, found = [], 0
    for k, (text, source) in enumerate(asked):
        started = time.perf_counter()
        with sessions() as s:
            got = suggest(s, idx, ws_team_id=TEAM, text=text, channel=PUBLIC[0], channel_is_private=False,
                          member_channels=None, now=START + timedelta(minutes=n))  # fmt: skip
        if k >= 20:
            times.append(time.perf_counter() - started)
            found += bool(source and got and got[0].question_id == source)
    idx.close()
    ms = [t * 1000 for t in times]
    return {"p50_ms": _pct(ms, 0.5), "p95_ms": _pct(ms, 0.95), "found": found / (len(ms) / 2), **_memory()}


def brute(db: Path, asked: list[tuple[str, int]]) -> dict[str, float]:
    """The suggestion without an index: every question's title scored by rapidfuzz, the best three kept."""
    from rapidfuzz import fuzz, process
    from rapidfuzz.utils import default_process

    from storage.fulltext import title_of

    started = time.perf_counter()
    with sqlite3.connect(db) as conn:
        titles = [default_process(title_of(t)) for (t,) in conn.execute("SELECT substr(text, 1, 120) FROM questions")]
    load_s = time.perf_counter() - started
    ms = []
    for text, _ in asked:
        started = time.perf_counter()
        process.extract(default_process(title_of(text)), titles, scorer=fuzz.token_set_ratio, processor=None, limit=3)
        ms.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": _pct(ms, 0.5), "p95_ms": _pct(ms, 0.95), "load_s": load_s, "sampled": len(ms), **_memory()}


def _worker(*args: object) -> dict[str, float]:
    """Run one measurement in a fresh interpreter; it prints a JSON line."""
    cmd = [sys.executable, "-m", "bench.search_scale", "--worker", json.dumps([str(a) for a in args])]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{args[0]} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else list(path.rglob("*"))
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def measure(n: int, workdir: Path) -> dict[str, Any]:
    from storage.db import make_engine, upgrade

    db, index = workdir / f"peerbot-{n}.db", workdir / f"index-{n}"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    started = time.perf_counter()
    fill(engine, n)  # through the triggers: FTS5 and the change log follow every insert
    fill_s = time.perf_counter() - started
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    out: dict[str, Any] = {"n": n, "fill_s": fill_s, "build": _worker("build", db, index)}
    out["db_mb"], out["index_mb"] = _size_mb(db), _size_mb(index)
    asked = queries(n, QUERIES + 20)  # made here: the workers' memory is the bot's alone
    files = {}
    for name, count in (("tantivy", QUERIES + 20), ("fts5", QUERIES + 20 if n <= 100_000 else 70),
                        ("brute", {10_000: 100, 100_000: 30}.get(n, 10))):  # fmt: skip
        files[name] = workdir / f"queries-{name}.json"
        files[name].write_text(json.dumps(asked[:count]))
    out["tantivy"] = _worker("serve", db, index, "tantivy", n, files["tantivy"])
    out["fts5"] = _worker("serve", db, index, "database", n, files["fts5"])
    out["brute"] = _worker("brute", db, files["brute"])
    shutil.rmtree(index, ignore_errors=True)
    for f in workdir.glob(f"peerbot-{n}.db*"):
        f.unlink()
    return out


def run(scale: str = "small", workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        return {"scale": scale, "sizes": [measure(n, Path(tmp)) for n in SIZES[scale]]}


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(res: dict[str, Any]) -> str:
    heads = ("questions", "engine", "p50 ms", "p95 ms", "faster than brute force (p50, p95)", "copied one found first",
             "peak RSS MB")  # fmt: skip
    lines = [_row(*heads), _row(*["---"] * len(heads))]
    for r in res["sizes"]:
        b = r["brute"]
        for name in ("tantivy", "fts5"):
            m = r[name]
            ratio = f"{b['p50_ms'] / m['p50_ms']:.0f}×, {b['p95_ms'] / m['p95_ms']:.0f}×"
            cells = (f"{m['p50_ms']:.1f}", f"{m['p95_ms']:.1f}", ratio, f"{m['found']:.0%}", f"{m['rss_mb']:.0f}")
            lines.append(_row(f"{r['n']:,}", name, *cells))
        brute = f"brute-force rapidfuzz ({b['sampled']} queries)"
        lines.append(
            _row(f"{r['n']:,}", brute, f"{b['p50_ms']:.1f}", f"{b['p95_ms']:.1f}", "1×", "–", f"{b['rss_mb']:.0f}")
        )
    heads = ("questions", "fill s (inserts, through the triggers)", "tantivy build s", "build peak RSS MB",
             "FTS5 rebuild s", "database MB", "tantivy index MB", "brute force: loading titles s")  # fmt: skip
    lines += ["", _row(*heads), _row(*["---"] * len(heads))]
    for r in res["sizes"]:
        g = r["build"]
        cells = (f"{r['fill_s']:.0f}", f"{g['tantivy_s']:.1f}", f"{g['rss_mb']:.0f}", f"{g['fts5_s']:.1f}")
        lines.append(
            _row(f"{r['n']:,}", *cells, f"{r['db_mb']:.0f}", f"{r['index_mb']:.0f}", f"{r['brute']['load_s']:.1f}")
        )
    top = res["sizes"][-1]
    t, b = top["tantivy"], top["brute"]
    lines += [
        "",
        f"Targets at {top['n']:,} questions on SQLite: p95 ≤ {TARGET_P95_MS:.0f} ms → {t['p95_ms']:.1f} ms; "
        f"≥ {TARGET_SPEEDUP:.0f}× brute force → {b['p50_ms'] / t['p50_ms']:.0f}× (p50); "
        f"peak RSS ≤ {TARGET_RSS_MB:.0f} MB → serving {t['rss_mb']:.0f} MB, building {top['build']['rss_mb']:.0f} MB.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SIZES), default="small")
    parser.add_argument("--workdir", type=Path, default=None, help="where the databases go (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON as well")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = json.loads(args.worker)
        if kind == "build":
            print(json.dumps(build(Path(rest[0]), Path(rest[1]))))
        elif kind == "serve":
            asked = [tuple(q) for q in json.loads(Path(rest[4]).read_text())]
            print(json.dumps(serve(Path(rest[0]), Path(rest[1]), rest[2], int(rest[3]), asked)))  # type: ignore[arg-type]
        else:
            print(json.dumps(brute(Path(rest[0]), [tuple(q) for q in json.loads(Path(rest[1]).read_text())])))  # type: ignore[misc]
        return
    res = run(args.scale, args.workdir)
    if args.json:
        print(json.dumps(res, indent=1))
    print(markdown(res))


if __name__ == "__main__":
    main()
