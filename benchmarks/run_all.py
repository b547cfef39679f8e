"""Run every benchmark, each in its own process; exit non-zero when any target is missed.

Usage: run_all.py [--smoke] [--only triggerer,import,...] [--output FILE]

``--smoke`` runs each script at small sizes (about two minutes in all, for CI); targets that mean
nothing at those sizes are reported but not enforced, as each table says. Extra arguments after
``--`` go to every script (for example ``-- --n 1000`` is understood by bench_triggerer.py only,
so prefer running that script directly to change its sizes).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "import": "bench_import.py",
    "worker_slot": "bench_worker_slot.py",
    "client": "bench_client.py",
    "sandbox": "bench_sandbox.py",
    "triggerer": "bench_triggerer.py",
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", default=",".join(SCRIPTS))
    parser.add_argument("--output", type=Path, default=None, help="also write the output here")
    args = parser.parse_args(argv)

    out = args.output.open("w", encoding="utf-8") if args.output else None
    summary: list[tuple[str, int, float]] = []
    for name in args.only.split(","):
        cmd = [sys.executable, str(HERE / SCRIPTS[name]), *(["--smoke"] if args.smoke else [])]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if out is not None:
                out.write(line)
        code = proc.wait()
        summary.append((SCRIPTS[name], code, time.monotonic() - start))

    lines = ["", "## Summary", "", "| script | result | seconds |", "|---|---|---|"]
    lines += [
        f"| {script} | {'ok' if code == 0 else f'TARGET MISSED (exit {code})'} | {secs:.0f} |"
        for script, code, secs in summary
    ]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if out is not None:
        out.write(text)
        out.close()
    return 1 if any(code for _, code, _ in summary) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
