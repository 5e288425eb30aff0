"""The house rules, checked: no product module over 400 lines, no function over 70
lines without a one-line reason, and the README's layout table is the folder tree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("domain", "projections", "adapters")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 70
REASON = "# long:"


def python_files(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def long_functions(source: str) -> list[tuple[str, int]]:
    """Functions longer than the limit whose `def` line gives no `# long:` reason."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > MAX_FUNCTION_LINES and REASON not in lines[node.lineno - 1]:
            found.append((node.name, length))
    return found


def test_the_length_check_finds_a_long_function_and_accepts_a_reason() -> None:
    lines = [f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES)]
    assert long_functions("def f():\n" + "".join(lines)) == [("f", MAX_FUNCTION_LINES + 1)]
    assert long_functions("def f():  # long: one table\n" + "".join(lines)) == []
    assert long_functions("def f():\n" + "".join(lines[1:])) == []


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", python_files(*PRODUCT, "tests"), ids=relative)
def test_no_module_is_longer_than_the_limit(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES


@pytest.mark.parametrize("path", python_files(*PRODUCT), ids=relative)
def test_no_function_is_longer_than_the_limit_without_a_reason(path: Path) -> None:
    assert long_functions(path.read_text(encoding="utf-8")) == []


def layout_table() -> set[str]:
    """The product's folders named in the README's layout table (rows that start
    with a `path/`)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = re.findall(r"^\| `([\w/]+/)`", readme, flags=re.MULTILINE)
    return {path for path in named if path.split("/")[0] in PRODUCT}


def package_folders() -> set[str]:
    folders = {f"{p}/" for p in PRODUCT}
    for package in PRODUCT:
        for init in (ROOT / package).rglob("__init__.py"):
            folders.add(f"{init.parent.relative_to(ROOT).as_posix()}/")
    return folders


def test_the_readme_layout_table_is_the_folder_tree() -> None:
    assert layout_table() == package_folders()


def test_every_file_the_layout_table_names_is_in_its_folder() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = []
    for folder, owns in re.findall(r"^\| `([\w/]+/)` \| (.*) \|$", readme, flags=re.MULTILINE):
        if folder.split("/")[0] not in PRODUCT:
            continue
        for name in re.findall(r"`([\w.]+\.(?:py|jsonl)|\w+/)`", owns):
            if not (ROOT / folder / name).exists():
                missing.append(f"{folder}{name}")
    assert missing == []


def test_the_layout_table_names_every_module_in_its_folder() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([\w/]+/)` \| (.*) \|$", readme, flags=re.MULTILINE))
    unnamed = [
        path.relative_to(ROOT).as_posix()
        for path in python_files(*PRODUCT)
        if path.name not in ("__init__.py", "__main__.py")
        and f"`{path.name}`" not in rows.get(f"{path.parent.relative_to(ROOT).as_posix()}/", "")
    ]
    assert unnamed == []
