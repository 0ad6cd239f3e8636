"""`make fuzz`: a bounded mutation campaign over every parser in `targets.TARGETS`.

    python -m tests.fuzz.campaign --inputs 100000 [--target ninjs2 ...] [--seed 1] [--jobs 2]

For each target: inputs tried, how many were refused (the project's own 4xx errors: the
whole body, or every item in it) or accepted (at least one story), distinct failures
(anything else, grouped by exception type and the line that raised it; one input of each
is written to test-artifacts/fuzz/), and the line coverage of the target's modules. The
corpus grows with inputs whose outcome was new, so later mutations start from further
inside the parser. Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from services.ingest.formats import Parsed
from tests.fuzz.targets import REFUSALS, TARGETS, Target

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "fuzz"
CORPUS_MAX = 2000


@dataclass
class Report:
    name: str
    inputs: int = 0
    refused: int = 0
    accepted: int = 0
    seconds: float = 0.0
    coverage: float | None = None
    failures: dict[str, bytes] = field(default_factory=dict)  # signature -> first input


def _signature(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if str(ROOT) in f.filename]
    where = f"{Path(frames[-1].filename).relative_to(ROOT)}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


def _outcome(target: Target, data: bytes, report: Report) -> str:
    """What happened, coarsely (which refusal, which fields failed): new outcomes join the corpus."""
    try:
        result = target.run(data)
    except REFUSALS as exc:
        report.refused += 1
        return f"refused {type(exc).__name__} {getattr(exc, 'slug', '')}"
    except Exception as exc:
        report.failures.setdefault(_signature(exc), data)
        return "failed"
    if isinstance(result, Parsed):
        if not any(item.story for item in result.items):
            report.refused += 1
        else:
            report.accepted += 1
        return "items " + ",".join(item.error.where if item.error else "story" for item in result.items[:4])
    report.accepted += 1
    return f"accepted {type(result).__name__}"


def run_target(target: Target, inputs: int, seed: int, budget_seconds: float | None = None) -> Report:
    rng = random.Random(f"{seed}:{target.name}")
    report = Report(target.name)
    corpus = list(target.seeds) or [b""]
    seen: set[str] = set()
    started = time.perf_counter()
    for n in range(inputs):
        if budget_seconds is not None and n % 256 == 0 and time.perf_counter() - started > budget_seconds:
            break
        data = (
            corpus[n]
            if n < len(target.seeds)
            else target.mutator(rng, rng.choice(corpus), corpus, target.tokens)
        )
        outcome = _outcome(target, data, report)
        report.inputs += 1
        if outcome not in seen:
            seen.add(outcome)
            if len(corpus) < CORPUS_MAX and len(data) < 20_000:
                corpus.append(data)
    report.seconds = time.perf_counter() - started
    return report


def _with_coverage(target: Target, inputs: int, seed: int, budget: float | None) -> Report:
    import coverage

    files = [str(ROOT / m) for m in target.modules]
    cov = coverage.Coverage(include=files, data_file=None, branch=False)
    cov.start()
    try:
        report = run_target(target, inputs, seed, budget)
    finally:
        cov.stop()
    statements = executed = 0
    for path in files:
        _, lines, _, missing, _ = cov.analysis2(path)
        statements += len(lines)
        executed += len(lines) - len(missing)
    report.coverage = 100.0 * executed / statements if statements else None
    return report


def _save(report: Report) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for number, (signature, data) in enumerate(report.failures.items(), start=1):
        (ARTIFACTS / f"{report.name}-{number}.bin").write_bytes(data)
        (ARTIFACTS / f"{report.name}-{number}.txt").write_text(signature + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per target")
    parser.add_argument("--target", action="append", help="only these targets (repeatable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, help="stop each target after this long")
    parser.add_argument("--no-coverage", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="targets fuzzed at once (processes)")
    args = parser.parse_args(argv)
    chosen = [t.name for t in TARGETS if not args.target or t.name in args.target]
    columns = ("inputs", "refused", "accepted", "failures", "coverage", "time")
    print(f"{'target':<14} " + " ".join(f"{c:>9}" for c in columns))
    jobs = [(name, args.inputs, args.seed, args.seconds, not args.no_coverage) for name in chosen]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        reports = list(pool.map(_job, jobs)) if args.jobs > 1 else [_job(job) for job in jobs]
    total = 0
    for report in reports:
        _save(report)
        shown = f"{report.coverage:.1f} %" if report.coverage is not None else "—"
        print(
            f"{report.name:<14} {report.inputs:>9} {report.refused:>9} {report.accepted:>9} "
            f"{len(report.failures):>9} {shown:>9} {report.seconds:>8.1f}s"
        )
        for signature in report.failures:
            print(f"    {signature}")
        total += len(report.failures)
    print(f"distinct failures: {total}" + (f" (inputs in {ARTIFACTS.relative_to(ROOT)}/)" if total else ""))
    return 1 if total else 0


def _job(job: tuple[str, int, int, float | None, bool]) -> Report:
    name, inputs, seed, seconds, measure = job
    target = next(t for t in TARGETS if t.name == name)
    return (_with_coverage if measure else run_target)(target, inputs, seed, seconds)


if __name__ == "__main__":
    sys.exit(main())
