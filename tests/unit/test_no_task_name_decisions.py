"""No decision depends on a task's name (issue 18: "grep finds no task name compared in
Python"). Renaming a task must not change what wheelfleet does.

Python under src/ and plugins/ is read with its syntax tree: a comparison (``==``, ``!=``,
``in``, ``not in``) or a string test (``startswith``, ``endswith``, ``find``, ...) whose
operand is a task's name fails the test. A task's name is ``task``/``task_name``/
``failed_task`` (a name, an attribute or a key) or anything computed from one in the same
function (``name = task.lower()`` makes ``name`` a task name too). The playbooks' and roles'
YAML (Jinja) must not compare ``ansible_failed_task.name`` either. Showing a task's name is
fine; deciding on it is not.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sorted(
    path
    for folder in ("src", "plugins")
    for path in (ROOT / folder).rglob("*.py")
    if ".venv" not in path.parts
)
YAML = sorted(
    path
    for folder in ("playbooks", "roles", "molecule")
    for pattern in ("*.yml", "*.yaml")
    for path in (ROOT / folder).rglob(pattern)
)

_TASK_WORDS = re.compile(r"^(task|task_name|failed_task|ansible_failed_task)$")
_STRING_TESTS = frozenset(
    {"startswith", "endswith", "find", "rfind", "index", "rindex", "count", "__contains__"}
)


def _mentions_task(node: ast.AST, tainted: set[str]) -> bool:
    """Whether an expression is (or is computed from) a task's name."""
    for part in ast.walk(node):
        if isinstance(part, ast.Name) and (_TASK_WORDS.match(part.id) or part.id in tainted):
            return True
        if isinstance(part, ast.Attribute) and _TASK_WORDS.match(part.attr):
            return True
        if (
            isinstance(part, ast.Subscript)
            and isinstance(part.slice, ast.Constant)
            and isinstance(part.slice.value, str)
            and _TASK_WORDS.match(part.slice.value)
        ):
            return True
        if (
            isinstance(part, ast.Call)
            and isinstance(part.func, ast.Attribute)
            and part.func.attr == "get"
            and part.args
            and isinstance(part.args[0], ast.Constant)
            and isinstance(part.args[0].value, str)
            and _TASK_WORDS.match(part.args[0].value)
        ):
            return True
    return False


def _tainted_names(function: ast.AST) -> set[str]:
    """Local names that hold a task's name: assigned from one, until nothing changes."""
    tainted: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in ast.walk(function):
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if _mentions_task(node.value, tainted):
                    for target in targets:
                        for name in ast.walk(target):
                            if isinstance(name, ast.Name) and name.id not in tainted:
                                tainted.add(name.id)
                                changed = True
    return tainted


def task_name_decisions(source: str) -> Iterator[tuple[int, str]]:
    """Each line that compares a task's name, with the offending expression."""
    tree = ast.parse(source)
    scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))]
    seen: set[int] = set()
    for scope in scopes:
        tainted = _tainted_names(scope) if scope is not tree else set()
        for node in ast.walk(scope):
            if id(node) in seen:
                continue
            if isinstance(node, ast.Compare) and any(
                isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops
            ):
                operands = [node.left, *node.comparators]
                if any(_mentions_task(operand, tainted) for operand in operands):
                    seen.add(id(node))
                    yield node.lineno, ast.unparse(node)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _STRING_TESTS
                and (
                    _mentions_task(node.func.value, tainted)
                    or any(_mentions_task(arg, tainted) for arg in node.args)
                )
            ):
                seen.add(id(node))
                yield node.lineno, ast.unparse(node)
            elif isinstance(node, ast.Match) and _mentions_task(node.subject, tainted):
                seen.add(id(node))
                yield node.lineno, "match " + ast.unparse(node.subject)


_JINJA_TASK_NAME = r"ansible_failed_task(?:\.name|\[['\"]name['\"]\])"
_JINJA_COMPARE = re.compile(
    rf"{_JINJA_TASK_NAME}[^\n]*?(==|!=|\bnot in\b|\bin\b|\bis\b|\bmatch\b|\bsearch\b|startswith)"
    rf"|(==|!=|\bin\b)\s*{_JINJA_TASK_NAME}"
    # A task's name kept in a fact and compared later (``error.task != '...'``).
    r"|\.task\s*(==|!=|\bnot in\b|\bin\b)"
)


@pytest.mark.parametrize("path", PYTHON, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_python_compares_a_task_name(path: Path) -> None:
    found = list(task_name_decisions(path.read_text(encoding="utf-8")))
    assert found == [], f"{path.relative_to(ROOT)} decides on a task's name: {found}"


def test_no_playbook_or_role_compares_the_failed_task_name() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in YAML
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _JINJA_COMPARE.search(line)
    ]
    # A condition split over lines: the whole `when`/expression block is one text.
    for path in YAML:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(rf"{_JINJA_TASK_NAME}\s*\n\s*(==|!=|not in|in)\s", text):
            found.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "def f(failure):\n    return failure.task in INPUT_TASKS\n",
        "def f(data):\n    return data.get('task') == 'Summarise the jobs'\n",
        "def f(task):\n    name = task.lower()\n    return 'repair' in name\n",
        "def f(data):\n    task = str(data['task'])\n    return task.startswith('Summarise')\n",
        "def f(event):\n    return event['event_data']['task'] != 'x'\n",
    ],
)
def test_the_scan_finds_the_task_name_decisions_it_was_written_for(source: str) -> None:
    assert list(task_name_decisions(source))


@pytest.mark.parametrize(
    "source",
    [
        "def f(data):\n    task = data.get('task') or ''\n    print(task)\n    return task\n",
        "def f(res):\n    return res.get('failure_kind') == 'input'\n",
        "def f(data):\n    return str(data.get('resolved_action')).endswith('release_round')\n",
    ],
)
def test_the_scan_lets_a_task_name_be_shown(source: str) -> None:
    assert list(task_name_decisions(source)) == []


def test_the_yaml_scan_finds_a_comparison() -> None:
    line = "and wheelfleet_round_error.task != 'Fail' or ansible_failed_task.name == 'x'"
    assert _JINJA_COMPARE.search(line)
    assert not _JINJA_COMPARE.search("task: \"{{ ansible_failed_task.name | default('?') }}\"")
