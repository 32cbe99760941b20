"""Run the benchmarks and write the performance report.

python -m bench [--scale small|full] [--only NAME ...] [--out bench/RESULTS.md] [--profile [--compare EARLIER.md]]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

from bench import report

DEFAULT_OUT = Path(__file__).resolve().parent / "RESULTS.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", choices=report.SCALES, default="small", help="small: a smoke run; full: the report")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(report.BENCHMARKS),
        metavar="NAME",
        help=f"run only these benchmarks ({', '.join(report.BENCHMARKS)})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the Markdown goes (bench/RESULTS.md)")
    parser.add_argument("--profile", action="store_true", help="also profile the question path (needs pyinstrument)")
    parser.add_argument("--compare", type=Path, help="an earlier report to set the profiled figures beside (--out)")
    args = parser.parse_args(argv)
    names = [n for n in report.BENCHMARKS if not args.only or n in args.only]
    started, clock = datetime.now().astimezone(), time.perf_counter()
    previous = report._previous(args.compare or args.out)
    results = []
    for name in names:
        print(f"[bench] {name} ({args.scale}) …", file=sys.stderr, flush=True)
        results.append(report.run_one(name, args.scale))
        outcome = results[-1].error or "done"
        print(f"[bench] {name}: {outcome} in {results[-1].seconds:.0f} s", file=sys.stderr, flush=True)
    profile = None
    if args.profile:
        print("[bench] profiling the question path …", file=sys.stderr, flush=True)
        try:
            profile = report.profile_question_path(args.scale)
        except Exception as e:  # the report is still written
            print(f"[bench] profiling failed: {type(e).__name__}: {e}", file=sys.stderr)
    text = report.render(
        results,
        scale=args.scale,
        started=started,
        seconds=time.perf_counter() - clock,
        profile=profile,
        previous=previous,
    )
    report.write(args.out, text)
    print(f"[bench] wrote {args.out} in {(time.perf_counter() - clock) / 60:.1f} min", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
