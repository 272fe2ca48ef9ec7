"""A small Dockerfile reader for the image tests: instructions, stages, build arguments."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (CMD ["a", "b"]), else None."""
        text = self.value
        if self.keyword == "HEALTHCHECK":
            text = text.split("CMD", 1)[1].strip() if "CMD" in text else ""
        if text.startswith("["):
            parsed = json.loads(text)
            assert isinstance(parsed, list)
            return [str(item) for item in parsed]
        return None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    path: Path
    global_args: dict[str, str | None]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def args(self) -> dict[str, str | None]:
        """Every ARG and its default, wherever declared."""
        found = dict(self.global_args)
        for stage in self.stages:
            for instruction in stage.all("ARG"):
                name, _, default = instruction.value.partition("=")
                found[name.strip()] = default.strip() if default else None
        return found

    def resolved_base(self, stage: Stage) -> str:
        """The stage's base image with global ARG defaults substituted."""
        return expand(stage.base, {k: v or "" for k, v in self.global_args.items()})


def expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Instructions with continuation lines joined and comment lines dropped."""
    lines: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored by Docker
        if not current:
            start = number
        if raw.rstrip().endswith("\\"):
            current.append(raw.rstrip()[:-1])
            continue
        current.append(raw)
        lines.append((start, " ".join(part.strip() for part in current)))
        current = []
    return lines


def parse(path: Path) -> Dockerfile:
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for number, line in logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, value = line.partition(" ")
        keyword = keyword.upper()
        value = value.strip()
        if keyword == "FROM":
            words = shlex.split(value)
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif not stages:
            if keyword == "ARG":
                name, _, default = value.partition("=")
                global_args[name.strip()] = default.strip() if default else None
        else:
            stages[-1].instructions.append(Instruction(keyword, value, number))
    return Dockerfile(path, global_args, stages)


def env_pairs(instruction: Instruction) -> dict[str, str]:
    """KEY=VALUE pairs of an ENV or LABEL instruction."""
    pairs: dict[str, str] = {}
    for word in shlex.split(instruction.value):
        key, sep, value = word.partition("=")
        if sep:
            pairs[key] = value
    return pairs


FLOE_INSTALL = "uv pip install --python /opt/floe/venv/bin/python"


def floe_install_words(dockerfile: Dockerfile, build_args: dict[str, str] | None = None) -> list[str]:
    """The arguments of the image's ``uv pip install`` of floe, as its RUN's shell expands them.

    The build arguments are the Dockerfile's ARG defaults (or ``build_args``), given to
    ``/bin/sh`` as docker build gives them to a RUN, so ``${FLOE_EXTRAS:+,...}`` expands as it
    does in a real build.
    """
    runs = [i.value for stage in dockerfile.stages for i in stage.all("RUN") if FLOE_INSTALL in i.value]
    assert len(runs) == 1, f"expected one '{FLOE_INSTALL}' RUN in {dockerfile.path.name}, found {len(runs)}"
    command = runs[0][runs[0].index(FLOE_INSTALL) + len(FLOE_INSTALL):].split("&&", 1)[0]
    values = {name: value or "" for name, value in dockerfile.args().items()} | (build_args or {})
    result = subprocess.run(["/bin/sh", "-c", f"printf '%s\\n' {command}"], env=values, capture_output=True,
                            text=True, check=True)
    return result.stdout.splitlines()


CONSTRAINT_OPTIONS = ("--constraint", "-c")
UV_EXPORT = "uv export"


def install_requirements(words: list[str]) -> list[str]:
    """The requirements among the install line's words: its options and their values left out."""
    requirements: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in CONSTRAINT_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            requirements.append(word)
    return requirements


def install_constraints(words: list[str]) -> list[str]:
    """The constraint files the install line names (``--constraint FILE``)."""
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word in CONSTRAINT_OPTIONS]


def constraints_export(dockerfile: Dockerfile) -> list[str]:
    """The words of the ``uv export`` that writes the install's constraints, in the same RUN."""
    runs = [i.value for stage in dockerfile.stages for i in stage.all("RUN") if FLOE_INSTALL in i.value]
    assert len(runs) == 1
    exports = [part for part in runs[0].split("&&") if UV_EXPORT in part]
    assert len(exports) == 1, f"expected one '{UV_EXPORT}' before the install in its RUN, found {len(exports)}"
    return shlex.split(exports[0])


def floe_extras(dockerfile: Dockerfile, build_args: dict[str, str] | None = None) -> list[str]:
    """The extras of floe in the image's install line (``.[a,b]`` -> ["a", "b"])."""
    floe = [word for word in install_requirements(floe_install_words(dockerfile, build_args))
            if word.startswith(".[") or word == "."]
    assert len(floe) == 1, f"floe itself ('.' or '.[extras]') is not installed once: {floe}"
    return [extra for extra in floe[0].removeprefix(".").strip("[]").split(",") if extra]
