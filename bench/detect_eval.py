"""Evaluate bot.detect on the labelled message set: confusion matrix, precision/recall/F1, errors, speed."""

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.detect import looks_like_question

DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data"
DATA = DATA_DIR / "detect_messages.jsonl"
# Written and labelled separately, never used while writing the detector: the honest figure.
HOLDOUT = DATA_DIR / "detect_holdout.jsonl"


@dataclass
class Scores:
    """Confusion counts over a labelled set, with the misclassified texts."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load(path: Path = DATA) -> list[tuple[str, bool]]:
    """The (text, is_question) pairs of the labelled set."""
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [(str(row["text"]), bool(row["question"])) for row in rows]


def evaluate(cases: list[tuple[str, bool]], detector: Callable[[str], bool] = looks_like_question) -> Scores:
    """Run the detector over every case and count agreements with the labels."""
    scores = Scores()
    for text, expected in cases:
        got = detector(text)
        if got and expected:
            scores.tp += 1
        elif got:
            scores.fp += 1
            scores.false_positives.append(text)
        elif expected:
            scores.fn += 1
            scores.false_negatives.append(text)
        else:
            scores.tn += 1
    return scores


def microseconds_per_call(texts: list[str], rounds: int = 20) -> float:
    """Mean wall time of one call, over several passes of the whole set."""
    start = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            looks_like_question(text)
    return (time.perf_counter() - start) * 1e6 / (rounds * len(texts))


def has_question_mark(text: str) -> bool:
    """The baseline: a message is a question when it contains a question mark."""
    return "?" in text


def run(scale: str = "small") -> dict[str, Any]:
    """Scores of bot.detect and of the baseline on both sets, and µs per call (the sets are small: any scale)."""
    out: dict[str, Any] = {"scale": scale, "baseline": "contains a question mark"}
    for name, path in (("holdout", HOLDOUT), ("development", DATA)):
        cases = load(path)
        out[name] = {"messages": len(cases)}
        for who, detector in (("ours", looks_like_question), ("baseline", has_question_mark)):
            s = evaluate(cases, detector)
            counts = {k: v for k, v in asdict(s).items() if k in ("tp", "fp", "tn", "fn")}
            out[name][who] = {**counts, "precision": s.precision, "recall": s.recall, "f1": s.f1}
    out["us_per_call"] = microseconds_per_call([text for text, _ in load(DATA)])
    return out


def main() -> None:
    for name, path in (("held-out set", HOLDOUT), ("development set", DATA)):
        report(name, load(path))


def report(name: str, cases: list[tuple[str, bool]]) -> None:
    s = evaluate(cases)
    print(f"== {name}: {len(cases)} messages, {s.tp + s.fn} labelled questions\n")
    print("                 predicted Q   predicted not-Q")
    print(f"actual Q         {s.tp:>11}   {s.fn:>15}")
    print(f"actual not-Q     {s.fp:>11}   {s.tn:>15}\n")
    print(f"precision {s.precision:.3f}   recall {s.recall:.3f}   F1 {s.f1:.3f}\n")
    for title, texts in (("False positives", s.false_positives), ("False negatives", s.false_negatives)):
        print(f"{title} ({len(texts)}):")
        for text in texts:
            print("  -", json.dumps(text, ensure_ascii=False)[:160])
        print()
    us = microseconds_per_call([text for text, _ in cases])
    longest = max(len(text) for text, _ in cases)
    big = "How do I rotate the staging password? " + "x" * 40_000
    print(f"mean {us:.1f} µs per call over the set (longest message {longest} chars)")
    print(f"mean {microseconds_per_call([big], rounds=200):.1f} µs per call on a 40,000-character message")


if __name__ == "__main__":
    main()
