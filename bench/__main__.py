"""`make bench`: run every benchmark module and print its figures with the target beside each."""

from __future__ import annotations

import importlib
import sys
import time

MODULES = [
    "bench.ingest",
    "bench.synth",
    "bench.detection",
    "bench.federation",
    "bench.probe",
    "bench.sandbox",
    "sandbox.kube.bench",
    "bench.rehoming",
    "bench.readiness",
]


def main() -> int:
    failed = 0
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            print(f"{name}: not available ({error})")
            continue
        started = time.perf_counter()
        try:
            figures = module.run()
        except Exception as error:  # report every benchmark, even after one breaks
            print(f"{name}: FAILED: {error!r}")
            failed += 1
            continue
        print(f"{name} ({time.perf_counter() - started:.1f} s)")
        for label, value in figures.items():
            print(f"  {label:<62} {value}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
