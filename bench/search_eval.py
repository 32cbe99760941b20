"""Duplicate questions through the real search code: R@1, R@5 and MRR beside brute-force rapidfuzz and BM25 alone.

The questions of cs.stackexchange (2014) go into a fresh database in the order they were asked, through the
triggers and the index sync the bot uses; each query with a known duplicate is asked at its own time, so only
older questions can be found. The ranking model is fitted on one half of the queries (`--fit` prints the fitted
weights), figures are reported on the other half and on all, beside baselines computed in the same run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process
from sqlalchemy import insert
from sqlmodel import Session

from bench.search_fit import fit_logistic
from bot.search import DEFAULT, FEATURES, Ranking, rank
from storage.db import make_engine, upgrade
from storage.fulltext import open_index
from storage.models import Answer, Question, QuestionTag

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cs_stackexchange_2014_duplicates.jsonl"
TEAM, CHANNEL = "TEVAL", "CEVAL"


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    text: str
    tags: tuple[str, ...]
    created: datetime
    dup_of: tuple[str, ...]


def load(path: Path = DATA) -> list[Item]:
    items = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        d = json.loads(line)
        when = datetime.fromisoformat(d["created"] + "+00:00")
        items.append(Item(d["id"], d["title"], d["text"], tuple(d["tags"]), when, tuple(d["dup_of"])))
    return sorted(items, key=lambda i: (i.created, int(i.key)))


class Replay:
    """A database (and its indexes) that holds exactly the questions asked so far."""

    def __init__(self, items: Sequence[Item], workdir: Path) -> None:
        self.items, self.done = items, 0
        self.engine = make_engine(f"sqlite:///{workdir / 'eval.db'}")
        upgrade(self.engine)
        self.index = open_index(self.engine, kind="tantivy", path=workdir / "index", max_lag=1e9)
        self.fts = open_index(self.engine, kind="database")
        # Plain BM25 over the text (no title weight, word pairs or tags): like the data README's bm25s (MRR .32).
        plain = {"title_boost": 0.0, "pair_boost": 0.0, "asked_title_boost": 1.0}
        self.plain = open_index(self.engine, kind="tantivy", path=workdir / "plain", max_lag=1e9, **plain)

    def advance(self, until: datetime) -> None:
        """Ask (and answer) every question older than `until`, then sync the index as a replica would."""
        start = self.done
        while self.done < len(self.items) and self.items[self.done].created < until:
            self.done += 1
        new = [(n + 1, self.items[n]) for n in range(start, self.done)]
        if not new:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(Question), [_question(n, it) for n, it in new])
            conn.execute(insert(Answer), [_answer(n, it) for n, it in new])
            tags = [
                {"team_id": TEAM, "enterprise_id": "", "question_id": n, "tag": t} for n, it in new for t in it.tags
            ]
            if tags:
                conn.execute(insert(QuestionTag), tags)
        self.index.sync()
        self.plain.sync()


def _question(n: int, it: Item) -> dict[str, Any]:
    return {
        "id": n,
        "team_id": TEAM,
        "enterprise_id": "",
        "channel": CHANNEL,
        "ts": f"{n}.0",
        "thread_ts": f"{n}.0",
        "author": "UASK",
        "text": it.text,
        "status": "answered",
        "source": "implicit",
        "is_private": False,
        "created_at": it.created,
        "updated_at": it.created,
    }


def _answer(n: int, it: Item) -> dict[str, Any]:
    return {
        "id": n,
        "team_id": TEAM,
        "enterprise_id": "",
        "question_id": n,
        "channel": CHANNEL,
        "ts": f"{n}.1",
        "author": "UEXPERT",
        "text": "An answer.",
        "via": "thread",
        "accepted": False,
        "created_at": it.created,
        "updated_at": it.created,
    }


def reciprocal_rank(found: Iterable[int], targets: set[int]) -> float:
    for position, question_id in enumerate(found, 1):
        if question_id in targets:
            return 1 / position
    return 0.0


@dataclass
class Query:
    n: int  # the question's own id once asked
    item: Item
    targets: set[int]
    ranked: dict[str, list[int]]  # method -> question ids, best first
    rows: list[tuple[tuple[float, ...], int]]  # features, label: what the model is fitted on
    confidence: float  # of our top suggestion
    right: bool  # and whether it is the duplicate


def replay(items: Sequence[Item], ranking: Ranking, *, body_baseline: bool) -> tuple[list[Query], list[float]]:
    """Ask each query with an older duplicate at its time, through every method."""
    by_key = {it.key: n + 1 for n, it in enumerate(items)}
    out: list[Query] = []
    with tempfile.TemporaryDirectory() as tmp:
        r = Replay(items, Path(tmp))
        for n, it in enumerate(items, 1):
            targets = {by_key[k] for k in it.dup_of if k in by_key and by_key[k] < n}
            if not targets:
                continue
            r.advance(it.created)
            older = items[: r.done]
            k = ranking.candidates
            ranked = {
                "bm25": [h.question_id for h in r.plain.search(TEAM, it.text, limit=k)],
                "retrieval": [h.question_id for h in r.index.search(TEAM, it.text, limit=k, tags=it.tags)],
                "fts5": [h.question_id for h in r.fts.search(TEAM, it.text, limit=k)],
                "rapidfuzz": _brute(it.title, [o.title for o in older]),
            }
            if body_baseline:
                size = 400 + len(it.title)
                ranked["rapidfuzz_body"] = _brute(it.text[:size], [o.text[: 400 + len(o.title)] for o in older])
            with Session(r.engine) as s:
                found = rank(
                    s,
                    r.index,
                    team_id=TEAM,
                    text=it.text,
                    tags=it.tags,
                    now=it.created,
                    ranking=ranking,
                )
                on_fts = rank(
                    s,
                    r.fts,
                    team_id=TEAM,
                    text=it.text,
                    tags=it.tags,
                    now=it.created,
                    ranking=ranking,
                )
            ranked["ours"], ranked["ours_fts5"] = [x.question_id for x in found], [x.question_id for x in on_fts]
            rows = [(x.features, int(x.question_id in targets)) for x in found]
            top = found[0] if found else None
            out.append(
                Query(
                    n,
                    it,
                    targets,
                    ranked,
                    rows,
                    top.confidence if top else 0.0,
                    bool(top and top.question_id in targets),
                )
            )
        r.advance(datetime.max.replace(tzinfo=items[-1].created.tzinfo))
        noise = _noise(r, items, ranking, {q.n for q in out} | {t for q in out for t in q.targets})
        r.index.close()
        r.plain.close()
        r.engine.dispose()
    return out, noise


def _brute(query: str, choices: list[str]) -> list[int]:
    """Every older question scored by rapidfuzz (the whole corpus, no index), best first."""
    found = process.extract(query, choices, scorer=fuzz.token_set_ratio, processor=default_process, limit=None)
    return [i + 1 for _, _, i in found]


def _noise(r: Replay, items: Sequence[Item], ranking: Ranking, skip: set[int]) -> list[float]:
    """200 questions with no known duplicate, asked once everything is in: the confidence of what would be offered."""
    sample = [n for n in range(1, len(items) + 1) if n not in skip][::25][:200]
    out = []
    with Session(r.engine) as s:
        for n in sample:
            it = items[n - 1]
            found = rank(
                s,
                r.index,
                team_id=TEAM,
                text=it.text,
                tags=it.tags,
                now=it.created,
                ranking=ranking,
                exclude={n},
            )
            out.append(found[0].confidence if found else 0.0)
    return out


def scores(queries: Sequence[Query], method: str) -> tuple[float, float, float]:
    rrs = [reciprocal_rank(q.ranked[method], q.targets) for q in queries]
    n = max(len(rrs), 1)
    return sum(x == 1 for x in rrs) / n, sum(x >= 0.2 for x in rrs) / n, sum(rrs) / n


def fit(queries: Sequence[Query]) -> tuple[float, ...]:
    rows = [row for q in queries for row in q.rows]
    return tuple(round(w, 2) for w in fit_logistic([x for x, _ in rows], [y for _, y in rows], ridge=1.0))


METHODS = {
    "ours": "ours (default): tantivy top-100, re-ranked",
    "retrieval": "ours without the re-rank (BM25F: title, word pairs, tags)",
    "ours_fts5": "ours on the FTS5 engine (database fallback)",
    "bm25": "BM25 alone (tantivy, text only)",
    "fts5": "BM25 alone (FTS5, rarest terms)",
    "rapidfuzz": "brute-force rapidfuzz token_set_ratio, title",
    "rapidfuzz_body": "brute-force rapidfuzz token_set_ratio, title + 400 chars",
}
THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4)


def run(scale: str = "small", ranking: Ranking = DEFAULT) -> dict[str, Any]:
    started = time.perf_counter()
    items = load()
    queries, noise = replay(items, ranking, body_baseline=scale == "full")
    dev, test = queries[::2], queries[1::2]  # alternate in time order: both halves span the years
    parts = (("dev", dev), ("test", test), ("all", queries))
    table = {m: {name: scores(part, m) for name, part in parts} for m in METHODS if m in queries[0].ranked}
    thresholds = []
    for t in THRESHOLDS:
        row: list[float] = [t]
        for part in (dev, test):
            shown = [q for q in part if q.confidence >= t]
            row += [len(shown) / len(part), sum(q.right for q in shown) / max(len(shown), 1)]
        thresholds.append((*row, sum(c >= t for c in noise) / len(noise)))
    return {
        "queries": len(queries),
        "dev": len(dev),
        "test": len(test),
        "table": table,
        "fitted_on_dev": fit(dev),
        "in_use": ranking.weights,
        "threshold": ranking.threshold,
        "thresholds": thresholds,
        "noise_n": len(noise),
        "seconds": time.perf_counter() - started,
    }


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"Queries with an older duplicate: {res['queries']} (dev {res['dev']}: tuning; test {res['test']}: reported).",
        "",
        "| method | test R@1 | test R@5 | test MRR | all R@1 | all R@5 | all MRR | dev MRR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method, p in res["table"].items():
        t, a, d = p["test"], p["all"], p["dev"]
        cells = " | ".join(f"{x:.3f}" for x in (*t, *a, d[2]))
        lines.append(f"| {METHODS[method]} | {cells} |")
    mrr = {m: p["all"][2] for m, p in res["table"].items()}
    lines += [
        "",
        f"All-queries MRR as a ratio: ours / BM25 alone {mrr['ours'] / mrr['bm25']:.2f}, "
        f"ours / brute-force rapidfuzz {mrr['ours'] / mrr['rapidfuzz']:.2f}.",
        "",
        f"Confidence threshold (in use: {res['threshold']}; chosen on dev). Noise: questions without a known "
        f"duplicate ({res['noise_n']}) that would get a suggestion.",
        "",
        "| confidence ≥ | dev: offered | dev: top is right | test: offered | test: top is right | noise |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {t:.2f} | {a:.0%} | {b:.0%} | {c:.0%} | {d:.0%} | {e:.0%} |" for t, a, b, c, d, e in res["thresholds"]
    ]
    lines += [
        "",
        f"Weights in use {tuple(res['in_use'])}; fitted on dev in this run {res['fitted_on_dev']} "
        f"({', '.join(FEATURES)}, intercept). Run time {res['seconds']:.0f} s.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=["small", "full"], default="small")
    parser.add_argument("--fit", action="store_true", help="fit on the dev half, then report with the fitted weights")
    args = parser.parse_args()
    ranking = DEFAULT
    if args.fit:
        ranking = replace(DEFAULT, weights=run("small")["fitted_on_dev"])
    print(markdown(run(args.scale, ranking)))


if __name__ == "__main__":
    main()
