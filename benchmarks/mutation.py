"""Mutation testing of the code whose mistakes cost most: would the tests notice a slip?

    python benchmarks/mutation.py [--module PATH ...] [--max-mutants N] [--seed S]
                                  [--include-slow] [--timeout-factor F]

For each module it makes small one-line mistakes (mutants), one at a time, in a copy of the
working tree, and runs that module's tests with ``-x -q``: a mutant is killed when the tests
fail (or run past their time), survives when they pass. It prints progress and each survivor
on stderr, and one JSON line at the end:

    {"benchmark": "mutation", "modules": {path: {"mutants": n, "killed": k, "rate": k / n,
     "total": sites, "survived": [...]}}, "mutants": ..., "killed": ..., "rate": ...,
     "seconds": ...}

Mutants (one change each; the module is parsed, changed and written back with
``ast.unparse``, so comments go but meaning stays):
- comparisons flipped at their boundary (``<`` / ``<=``, ``>`` / ``>=``, ``==`` / ``!=``,
  ``is`` / ``is not``, ``in`` / ``not in``) and ``not`` dropped;
- ``+`` / ``-`` swapped, ``*`` to ``/``; ``and`` / ``or`` swapped; ``True`` / ``False``
  swapped; integer constants off by one; ``return x`` to ``return None``;
- inside SQL text (string constants that read as SQL, f-strings included): `` < `` / `` <= ``,
  `` > `` / `` >= ``, `` AND `` / `` OR `` swapped, ``+ 1`` / ``- 1`` swapped. The engine's
  last guards against over-fill are such strings (``statements.TAKE_SLOT``), which tools
  that mutate only inside functions never touch.
Docstrings, annotations and log text are left alone. ``--max-mutants`` draws a spread
sample (fixed by ``--seed``) across the module rather than its first lines.

The tests run against whatever ``DATABASE_URL`` names (default: SQLite in a scratch
folder); give PostgreSQL its own database name, as the tests create ``test_<name>``. Slow
tests (the concurrency ones) are left out unless ``--include-slow``. A module missing from
the tree (``training/registry.py`` before it exists) is reported as missing, not an error.
Not part of CI: a full run over every module takes hours; the cap keeps one short.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each module's tests, those most likely to catch a slip first (``-x`` stops at the first
# failure, so a killed mutant costs only the tests up to it).
MODULES: dict[str, list[str]] = {
    "annotation/assignment/services.py": [
        "tests/assignment/test_priority.py", "tests/assignment/test_loop.py",
        "tests/assignment/test_submit.py", "tests/assignment/test_leases.py",
        "tests/assignment/test_guarantees.py", "tests/assignment/test_gold_hidden.py",
        "tests/assignment"],
    "annotation/assignment/statements.py": [
        "tests/assignment/test_guarantees.py", "tests/assignment/test_loop.py",
        "tests/assignment/test_priority.py", "tests/assignment/test_leases.py",
        "tests/assignment"],
    "annotation/assignment/validation.py": [
        "tests/assignment/test_submit.py", "tests/assignment/test_guarantees.py",
        "tests/assignment/test_practice.py"],
    "annotation/imports/services.py": ["tests/imports"],
    "annotation/imports/formats.py": [
        "tests/imports/test_formats.py", "tests/imports/test_line_errors.py", "tests/imports"],
    "annotation/quality/consensus.py": ["tests/quality", "tests/training_django/test_data.py"],
    "training/registry.py": ["tests/training_django/test_registry.py",
                             "tests/training_django/test_runs.py"],
}

SQL_WORDS = re.compile(r"\b(SELECT|UPDATE|INSERT|DELETE|WHERE|CASE WHEN|AND|OR)\b")
SQL_SWAPS = ((" <= ", " < "), (" < ", " <= "), (" >= ", " > "), (" > ", " >= "),
             (" AND ", " OR "), (" OR ", " AND "), ("+ 1", "- 1"), ("- 1", "+ 1"))
COMPARE_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                 ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
                 ast.In: ast.NotIn, ast.NotIn: ast.In}
BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div}
SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
          ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
          ast.NotIn: "not in", ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
          ast.And: "and", ast.Or: "or"}


@dataclass(frozen=True)
class Mutant:
    index: int  # the node's place in a walk of the module
    kind: str
    detail: int  # which operator of a comparison, which occurrence in a string
    line: int
    description: str


# --- finding and making mutants --------------------------------------------------------------

def _skipped_nodes(tree: ast.Module) -> set[int]:
    """ids of nodes not to mutate: docstrings, annotations, __future__ imports, log calls."""
    skipped: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            skipped.update(id(inner) for inner in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                skip(body[0])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            skip(node.returns)
            for arg in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs,
                        node.args.vararg, node.args.kwarg]:
                if arg is not None:
                    skip(arg.annotation)
        elif isinstance(node, ast.AnnAssign):
            skip(node.annotation)
        elif isinstance(node, ast.ImportFrom) and node.module == "__future__":
            skip(node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("debug", "info", "warning", "error", "exception"):
            skip(node)
        elif isinstance(node, ast.FormattedValue):
            skip(node.format_spec)
    return skipped


def _sql_parts(node: ast.AST) -> list[ast.Constant]:
    """The literal parts of a string that reads as SQL (a plain or an f-string)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        parts = [node]
    elif isinstance(node, ast.JoinedStr):
        parts = [v for v in node.values if isinstance(v, ast.Constant)]
    else:
        return []
    return parts if SQL_WORDS.search(" ".join(p.value for p in parts)) else []


def _string_sites(node: ast.AST) -> list[tuple[int, int, str, str]]:
    """(part, offset, old, new) of each SQL swap in the node's literal text."""
    sites = []
    for part, constant in enumerate(_sql_parts(node)):
        for old, new in SQL_SWAPS:
            sites.extend((part, match.start(), old, new)
                         for match in re.finditer(re.escape(old), constant.value))
    return sorted(sites)


def find_mutants(source: str) -> list[Mutant]:
    tree = ast.parse(source)
    skipped = _skipped_nodes(tree)
    # The literal parts of an f-string are mutated as part of the whole string.
    in_fstring = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                  for v in node.values}
    mutants: list[Mutant] = []

    def add(index, kind, detail, node, description):
        mutants.append(Mutant(index, kind, detail, getattr(node, "lineno", 0), description))

    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in COMPARE_SWAPS:
                    new = COMPARE_SWAPS[type(op)]
                    add(index, "compare", i, node, f"{SYMBOL[type(op)]} -> {SYMBOL[new]}")
        elif isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
            new = BINOP_SWAPS[type(node.op)]
            add(index, "binop", 0, node, f"{SYMBOL[type(node.op)]} -> {SYMBOL[new]}")
        elif isinstance(node, ast.BoolOp):
            new = "or" if isinstance(node.op, ast.And) else "and"
            add(index, "boolop", 0, node, f"{SYMBOL[type(node.op)]} -> {new}")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            add(index, "not", 0, node, "drop not")
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                add(index, "bool", 0, node, f"{value} -> {not value}")
            elif isinstance(value, int):
                add(index, "int", 0, node, f"{value} -> {value + 1}")
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            add(index, "return", 0, node, "return None")
        if isinstance(node, (ast.Constant, ast.JoinedStr)) and id(node) not in in_fstring:
            parts = _sql_parts(node)
            for n, (part, offset, old, new) in enumerate(_string_sites(node)):
                text = parts[part].value
                context = " ".join(text[max(offset - 25, 0):offset + len(old) + 25].split())
                add(index, "sql", n, node,
                    f"SQL {old.strip()!r} -> {new.strip()!r} in {context!r}")
    return mutants


def _swap_in_parts(node: ast.AST, occurrence: int) -> None:
    part, offset, old, new = _string_sites(node)[occurrence]
    constant = _sql_parts(node)[part]
    constant.value = constant.value[:offset] + new + constant.value[offset + len(old):]


def apply(source: str, mutant: Mutant) -> str:
    tree = ast.parse(source)
    node = next(n for i, n in enumerate(ast.walk(tree)) if i == mutant.index)
    if mutant.kind == "compare":
        node.ops[mutant.detail] = COMPARE_SWAPS[type(node.ops[mutant.detail])]()
    elif mutant.kind == "binop":
        node.op = BINOP_SWAPS[type(node.op)]()
    elif mutant.kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif mutant.kind == "not":
        replace_node(tree, node, node.operand)
    elif mutant.kind == "bool":
        node.value = not node.value
    elif mutant.kind == "int":
        node.value += 1
    elif mutant.kind == "return":
        node.value = ast.Constant(value=None)
    elif mutant.kind == "sql":
        _swap_in_parts(node, mutant.detail)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def replace_node(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list):
                for i, inner in enumerate(value):
                    if inner is old:
                        value[i] = new
                        return


# --- running the tests -----------------------------------------------------------------------

def copy_tree(dest: Path) -> None:
    """The working tree as git sees it (tracked and untracked, not ignored), without caches."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if name.startswith(("var/", "test-artifacts/")) or "__pycache__" in name:
            continue
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run_tests(tree: Path, tests: list[str], *, env: dict, timeout: float | None,
              include_slow: bool) -> tuple[str, float]:
    """'pass', 'fail' or 'timeout', and the seconds it took."""
    marks = "not browser" if include_slow else "not browser and not slow"
    present = [t for t in tests if (tree / t).exists()]
    if not present:
        return "error: none of its tests exist", 0.0
    command = [sys.executable, "-m", "pytest", *present, "-x", "-q", "-p", "no:cacheprovider",
               "-m", marks, "--timeout", "300"]
    started = time.monotonic()
    try:
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started
    elapsed = time.monotonic() - started
    if done.returncode == 0:
        return "pass", elapsed
    if done.returncode in (1, 2):  # failed, or the mutant broke collection (an import)
        return "fail", elapsed
    tail = done.stdout.decode(errors="replace")[-2000:]
    return f"error (exit {done.returncode}): {tail}", elapsed


def test_env(tree: Path, data_dir: Path) -> dict:
    env = {**os.environ, "RANKWISE_PROFILE": "local", "RANKWISE_DATA_DIR": str(data_dir),
           "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join([str(tree), str(tree / "platform")])}
    env.pop("RANKWISE_FAIL_ON_SKIP", None)
    return env


def check_imports_from(tree: Path, env: dict) -> None:
    """The copy, not the checkout the virtual environment points at, must be what runs."""
    found = subprocess.run([sys.executable, "-c", "import annotation; print(annotation.__file__)"],
                           cwd=tree, env=env, capture_output=True, text=True, check=True)
    if not found.stdout.strip().startswith(str(tree)):
        raise SystemExit(f"the tests would import {found.stdout.strip()}, not the copy in {tree}")


def mutate_module(path: str, *, tree: Path, env: dict, max_mutants: int | None, seed: int,
                  include_slow: bool, timeout_factor: float) -> dict:
    target = tree / path
    if not target.exists():
        return {"mutants": 0, "killed": 0, "rate": None, "missing": True}
    original = target.read_text()
    mutants = find_mutants(original)
    chosen = mutants
    if max_mutants is not None and len(mutants) > max_mutants:
        chosen = sorted(random.Random(seed).sample(mutants, max_mutants),
                        key=lambda m: (m.line, m.index, m.detail))
    tests = MODULES.get(path, ["tests"])
    # The clean run goes through the same parse and unparse as every mutant, so a kill is
    # never the round trip's doing.
    target.write_text(ast.unparse(ast.parse(original)) + "\n")
    try:
        baseline, seconds = run_tests(tree, tests, env=env, timeout=None,
                                      include_slow=include_slow)
    finally:
        target.write_text(original)
    if baseline != "pass":
        return {"mutants": 0, "killed": 0, "rate": None, "total": len(mutants),
                "error": f"the unmutated tests do not pass: {baseline[:500]}"}
    timeout = seconds * timeout_factor + 30
    killed, survived, errors = 0, [], []
    try:
        for n, mutant in enumerate(chosen, start=1):
            try:
                mutated = apply(original, mutant)
                compile(mutated, path, "exec")
            except (SyntaxError, ValueError, StopIteration) as exc:
                errors.append(f"line {mutant.line}: {mutant.description}: {exc}")
                continue
            target.write_text(mutated)
            outcome, took = run_tests(tree, tests, env=env, timeout=timeout,
                                      include_slow=include_slow)
            target.write_text(original)
            label = f"{path}:{mutant.line} {mutant.description}"
            if outcome in ("fail", "timeout"):
                killed += 1
            elif outcome == "pass":
                survived.append(f"line {mutant.line}: {mutant.description}")
            else:
                errors.append(f"{label}: {outcome[:300]}")
            print(f"[{n}/{len(chosen)}] {outcome:8s} {took:6.1f}s  {label}", file=sys.stderr,
                  flush=True)
    finally:
        target.write_text(original)
    counted = killed + len(survived)
    result = {"mutants": counted, "killed": killed,
              "rate": round(killed / counted, 3) if counted else None, "total": len(mutants),
              "survived": survived}
    if errors:
        result["errors"] = errors
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", dest="modules", metavar="PATH",
                        help="a module to mutate (repeatable; default: all of "
                        + ", ".join(MODULES) + ")")
    parser.add_argument("--max-mutants", type=int, default=None, metavar="N",
                        help="at most N mutants per module, drawn across the module")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--include-slow", action="store_true",
                        help="also run tests marked slow (the concurrency tests)")
    parser.add_argument("--timeout-factor", type=float, default=3.0,
                        help="a mutant's tests may take this many times the clean run (+30 s)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args()
    modules = args.modules or list(MODULES)

    if args.list:
        for path in modules:
            if (ROOT / path).exists():
                for mutant in sorted(find_mutants((ROOT / path).read_text()),
                                     key=lambda m: (m.line, m.index, m.detail)):
                    print(f"{path}:{mutant.line} {mutant.description}")
        return

    started = time.monotonic()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="rw-mutation-") as scratch:
        tree, data_dir = Path(scratch) / "tree", Path(scratch) / "data"
        copy_tree(tree)
        data_dir.mkdir()
        env = test_env(tree, data_dir)
        check_imports_from(tree, env)
        for path in modules:
            print(f"--- {path}", file=sys.stderr, flush=True)
            results[path] = mutate_module(
                path, tree=tree, env=env, max_mutants=args.max_mutants, seed=args.seed,
                include_slow=args.include_slow, timeout_factor=args.timeout_factor)
            for line in results[path].get("survived", []):
                print(f"survived: {path} {line}", file=sys.stderr)
    mutants = sum(r["mutants"] for r in results.values())
    killed = sum(r["killed"] for r in results.values())
    print(json.dumps({
        "benchmark": "mutation",
        "modules": results,
        "mutants": mutants,
        "killed": killed,
        "rate": round(killed / mutants, 3) if mutants else None,
        "max_mutants": args.max_mutants,
        "seconds": round(time.monotonic() - started, 1),
    }))


if __name__ == "__main__":
    main()
