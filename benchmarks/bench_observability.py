"""What tracing and lineage cost a run: ``floe run`` with both on (file transports) against off.

    .venv/bin/python benchmarks/bench_observability.py [--models 200] [--repeat 3]

Two copies of the generated project (see ``_project.py``) differ only in platform.yaml:
``observability: {tracing: {type: none}, lineage: {type: none}}`` against
``{tracing: {type: file}, lineage: {type: file}}``. Each is compiled by an untimed warm-up
run, then the two are timed interleaved, whole process, median of ``--repeat``. Goal: the
run with observability on costs at most 5 % more. Nothing is asserted; the script prints
figures.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess

from _project import ensure_project
from _timing import (
    WORK,
    Command,
    bench_env,
    exclusive,
    machine_line,
    note,
    seconds,
    table,
    time_interleaved,
    tool,
)

VARIANTS = {
    "off": "    observability:\n      tracing: {type: none}\n      lineage: {type: none}\n",
    "on (file)": "    observability:\n      tracing: {type: file}\n      lineage: {type: file}\n",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=200, help="project size [200]")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each variant [3]")
    args = parser.parse_args(argv)
    with exclusive():
        source = ensure_project(args.models)
        commands = []
        for label, block in VARIANTS.items():
            root = WORK / f"observability_{args.models}_{label.split()[0]}"
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(source.root, root, ignore=shutil.ignore_patterns(".floe"))
            platform = root / "platform.yaml"
            platform.write_text(platform.read_text() + block)
            env = bench_env({"FLOE_PROJECT_DIR": str(root)})
            commands.append(Command(label, [tool("floe"), "run"], cwd=root, env=env, forbidden_output="compiled ("))
            note(f"compiling the '{label}' copy")
            # Compile now: a timed run must not include (nor print) a compile.
            subprocess.run([tool("floe"), "compile"], cwd=root, env=env, check=True, capture_output=True)
        stats = time_interleaved(commands, repeat=args.repeat, warmup=1)
    off, on = stats["off"], stats["on (file)"]
    ratio = on.median / off.median
    print(f"## Observability overhead, {args.models} models\n\n{machine_line()}\n")
    print(table(
        ["variant", "median wall", "min wall", "median cpu", "on / off", "goal"],
        [
            ["observability off", seconds(off.median), seconds(off.minimum), seconds(off.cpu_median), "-", "-"],
            ["tracing + lineage to files", seconds(on.median), seconds(on.minimum), seconds(on.cpu_median),
             f"{ratio:.3f}", "met (<= 1.05)" if ratio <= 1.05 else "not met (<= 1.05)"],
        ],
    ))
    print(f"\n(finished {machine_line()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
