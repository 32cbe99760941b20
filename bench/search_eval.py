"""Duplicate questions through the real search code: R@1, R@5 and MRR beside brute-force rapidfuzz and BM25 alone.

The questions of cs.stackexchange (2014) go into a fresh database in the order they were asked, through the
triggers and the index sync the bot uses; each query with a known duplicate is asked at its own time, so only
older questions can be found. The ranking models are fitted on one half of the queries (the dev half: every run
prints what it would fit; `--fit` reports with those weights), figures are reported on the other half and on all,
beside baselines computed in the same run. `--semantic` adds the search with embeddings (peerbot[semantic]).
"""

from __future__ import annotations

import argparse
import json
import os
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
from bot.search import DEFAULT, Model, Ranking, rank
from storage.db import make_engine, upgrade
from storage.fulltext import FullTextIndex, open_index
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

    def __init__(self, items: Sequence[Item], workdir: Path, *, semantic: Path | None = None) -> None:
        self.items, self.done = items, 0
        self.engine = make_engine(f"sqlite:///{workdir / 'eval.db'}")
        upgrade(self.engine)
        self.index = open_index(self.engine, kind="tantivy", path=workdir / "index", max_lag=1e9)
        self.fts = open_index(self.engine, kind="database")
        # Plain BM25 over the text (no title weight, word pairs or tags): like the data README's bm25s (MRR .32).
        plain = {"title_boost": 0.0, "pair_boost": 0.0, "asked_title_boost": 1.0, "saturate": False}
        self.plain = open_index(self.engine, kind="tantivy", path=workdir / "plain", max_lag=1e9, **plain)
        self.semantic = None
        if semantic is not None:  # the same index with embeddings; its vectors file may be kept from an earlier run
            from bot import semantic as model

            os.symlink(semantic.resolve(), workdir / "semantic.vectors.sqlite")
            self.semantic = open_index(
                self.engine, kind="tantivy", path=workdir / "semantic", max_lag=1e9, embedder=model.load()
            )

    def indexes(self) -> list[FullTextIndex]:
        return [self.index, self.plain, *([self.semantic] if self.semantic else [])]

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
        for index in self.indexes():
            index.sync()


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
    rows_db: list[tuple[tuple[float, ...], int]]  # the same on the database's engine
    confidence: float  # of our top suggestion
    right: bool  # and whether it is the duplicate
    rows_sem: list[tuple[tuple[float, ...], int]]  # the same with embeddings
    confidence_sem: float
    right_sem: bool


def replay(
    items: Sequence[Item], ranking: Ranking, *, body_baseline: bool, semantic: Path | None = None
) -> tuple[list[Query], dict[str, list[float]]]:
    """Ask each query with an older duplicate at its time, through every method."""
    by_key = {it.key: n + 1 for n, it in enumerate(items)}
    out: list[Query] = []
    with tempfile.TemporaryDirectory() as tmp:
        r = Replay(items, Path(tmp), semantic=semantic)
        for n, it in enumerate(items, 1):
            targets = {by_key[k] for k in it.dup_of if k in by_key and by_key[k] < n}
            if not targets:
                continue
            r.advance(it.created)
            older = items[: r.done]
            k = ranking.lexical.candidates
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
                with_sem = (
                    rank(s, r.semantic, team_id=TEAM, text=it.text, tags=it.tags, now=it.created, ranking=ranking)
                    if r.semantic
                    else []
                )
            if r.semantic:
                ranked["ours_semantic"] = [x.question_id for x in with_sem]
            ranked["ours"], ranked["ours_fts5"] = [x.question_id for x in found], [x.question_id for x in on_fts]
            rows = [(x.features, int(x.question_id in targets)) for x in found]
            rows_db = [(x.features, int(x.question_id in targets)) for x in on_fts]
            rows_sem = [(x.features, int(x.question_id in targets)) for x in with_sem]
            top = found[0] if found else None
            top_sem = with_sem[0] if with_sem else None
            out.append(
                Query(
                    n,
                    it,
                    targets,
                    ranked,
                    rows,
                    rows_db,
                    top.confidence if top else 0.0,
                    bool(top and top.question_id in targets),
                    rows_sem,
                    top_sem.confidence if top_sem else 0.0,
                    bool(top_sem and top_sem.question_id in targets),
                )
            )
        r.advance(datetime.max.replace(tzinfo=items[-1].created.tzinfo))
        skip = {q.n for q in out} | {t for q in out for t in q.targets}
        noise = {"lexical": _noise(r, r.index, items, ranking, skip)}
        if r.semantic:
            noise["semantic"] = _noise(r, r.semantic, items, ranking, skip)
        for index in r.indexes():
            index.close()
        r.engine.dispose()
    return out, noise


def _brute(query: str, choices: list[str]) -> list[int]:
    """Every older question scored by rapidfuzz (the whole corpus, no index), best first."""
    found = process.extract(query, choices, scorer=fuzz.token_set_ratio, processor=default_process, limit=None)
    return [i + 1 for _, _, i in found]


def _noise(r: Replay, index: FullTextIndex, items: Sequence[Item], ranking: Ranking, skip: set[int]) -> list[float]:
    """200 questions with no known duplicate, asked once everything is in: the confidence of what would be offered."""
    sample = [n for n in range(1, len(items) + 1) if n not in skip][::25][:200]
    out = []
    with Session(r.engine) as s:
        for n in sample:
            it = items[n - 1]
            found = rank(
                s,
                index,
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


def fit(queries: Sequence[Query], model: Model, *, rows_of: str = "rows") -> Model | None:
    """`model` with its weights fitted on `queries`, and its order's weights: a model of the order's features alone."""
    rows = [row for q in queries for row in getattr(q, rows_of)]
    if not rows:
        return None
    labels = [y for _, y in rows]
    weights = fit_logistic([x for x, _ in rows], labels, ridge=1.0)
    names = [f for f, _ in model.order]
    at = [model.features.index(f) for f in names]
    order = fit_logistic([[x[i] for i in at] for x, _ in rows], labels, ridge=1.0)
    return replace(
        model,
        weights=tuple(round(w, 2) for w in weights),
        order=tuple((f, round(w, 2)) for f, w in zip(names, order, strict=False)),
    )


METHODS = {
    "ours": "ours (default): tantivy top-100, re-ranked",
    "retrieval": "ours without the re-rank (BM25F: title, word pairs, tags)",
    "ours_fts5": "ours on the FTS5 engine (database fallback)",
    "bm25": "BM25 alone (tantivy, text only)",
    "ours_semantic": "ours with embeddings (all-MiniLM-L6-v2): tantivy top-200, ordered by similarity",
    "fts5": "BM25 alone (FTS5, rarest terms)",
    "rapidfuzz": "brute-force rapidfuzz token_set_ratio, title",
    "rapidfuzz_body": "brute-force rapidfuzz token_set_ratio, title + 400 chars",
}
THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
THRESHOLD_HEAD = (
    "| confidence ≥ | dev: offered | dev: top is right | test: offered | test: top is right | noise |",
    "|---|---|---|---|---|---|",
)


def _thresholds(dev: Sequence[Query], test: Sequence[Query], noise: list[float], sem: bool) -> list[tuple[float, ...]]:
    out = []
    for t in THRESHOLDS:
        row: list[float] = [t]
        for part in (dev, test):
            shown = [q for q in part if (q.confidence_sem if sem else q.confidence) >= t]
            right = sum(q.right_sem if sem else q.right for q in shown)
            row += [len(shown) / len(part), right / max(len(shown), 1)]
        out.append((*row, sum(c >= t for c in noise) / len(noise)))
    return out


def run(scale: str = "small", ranking: Ranking = DEFAULT, *, semantic: Path | None = None) -> dict[str, Any]:
    """The figures; with `semantic` (a file for the embeddings, kept for a later run), the semantic search too."""
    started = time.perf_counter()
    items = load()
    queries, noise = replay(items, ranking, body_baseline=scale == "full", semantic=semantic)
    dev, test = queries[::2], queries[1::2]  # alternate in time order: both halves span the years
    parts = (("dev", dev), ("test", test), ("all", queries))
    table = {m: {name: scores(part, m) for name, part in parts} for m in METHODS if m in queries[0].ranked}
    thresholds = {kind: _thresholds(dev, test, values, kind == "semantic") for kind, values in noise.items()}
    return {
        "queries": len(queries),
        "dev": len(dev),
        "test": len(test),
        "table": table,
        "fitted": {
            "lexical": fit(dev, ranking.lexical),
            "database": fit(dev, ranking.database, rows_of="rows_db"),
            "semantic": fit(dev, ranking.semantic, rows_of="rows_sem"),
        },
        "in_use": {"lexical": ranking.lexical, "database": ranking.database, "semantic": ranking.semantic},
        "threshold": ranking.threshold,
        "threshold_semantic": ranking.semantic.threshold or ranking.threshold,
        "thresholds": thresholds["lexical"],
        "thresholds_semantic": thresholds.get("semantic", []),
        "noise_n": len(noise["lexical"]),
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
        *THRESHOLD_HEAD,
    ]
    lines += _threshold_rows(res["thresholds"])
    if res["thresholds_semantic"]:
        lines += ["", f"With embeddings (in use: {res['threshold_semantic']}):", "", *THRESHOLD_HEAD]
        lines += _threshold_rows(res["thresholds_semantic"])
    lines += ["", "| model | features | weights in use | fitted on dev | order in use | order fitted on dev |"]
    lines.append("|---|---|---|---|---|---|")
    for kind, label in (("lexical", "tantivy"), ("database", "FTS5 / PostgreSQL"), ("semantic", "with embeddings")):
        used, fitted = res["in_use"][kind], res["fitted"][kind]
        if fitted is not None:
            cells = (", ".join((*used.features, "intercept")), used.weights, fitted.weights, used.order, fitted.order)
            lines.append(f"| {label} | " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", f"Run time {res['seconds']:.0f} s."]
    return "\n".join(lines)


def _threshold_rows(rows: Sequence[tuple[float, ...]]) -> list[str]:
    return [f"| {t:.2f} | {a:.0%} | {b:.0%} | {c:.0%} | {d:.0%} | {e:.0%} |" for t, a, b, c, d, e in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=["small", "full"], default="small")
    parser.add_argument("--fit", action="store_true", help="fit on the dev half, then report with the fitted weights")
    parser.add_argument(
        "--semantic",
        action="store_true",
        help="also the search with embeddings (needs peerbot[semantic]; embedding the questions takes minutes)",
    )
    parser.add_argument(
        "--vectors",
        type=Path,
        default=None,
        help="with --semantic: keep the embeddings in this file and reuse them in later runs (default: a temp file)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        semantic = (args.vectors or Path(tmp) / "vectors.sqlite") if args.semantic else None
        ranking = DEFAULT
        if args.fit:
            fitted = {kind: m for kind, m in run("small", semantic=semantic)["fitted"].items() if m is not None}
            ranking = replace(DEFAULT, **fitted)
        print(markdown(run(args.scale, ranking, semantic=semantic)))


if __name__ == "__main__":
    main()
