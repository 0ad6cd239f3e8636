"""Every Lua script in the tree is a .lua file run through shared.scripts, with its header."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shared.scripts import LuaScript

ROOT = Path(__file__).resolve().parents[2]
LUA_FILES = sorted(p for d in ("shared", "services") for p in (ROOT / d).rglob("*.lua"))
# helpers.lua is a prelude of publish's scripts, not a script of its own
SCRIPTS = [p for p in LUA_FILES if p.name != "helpers.lua"]


def test_the_tree_has_its_scripts() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SCRIPTS}
    assert {
        "shared/append_once.lua",
        "services/ingest/accept.lua",
        "services/enrich/related/lua/put.lua",
        "services/enrich/related/lua/candidates.lua",
        "services/publish/lua/act.lua",
    } <= names


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_each_script_declares_its_keys_and_arguments(path: Path) -> None:
    script = LuaScript.load(path)
    assert script.declared("KEYS")
    assert script.declared("ARGV")


def test_a_script_without_a_header_is_refused(tmp_path: Path) -> None:
    bare = tmp_path / "bare.lua"
    bare.write_text("return 1\n")
    with pytest.raises(ValueError, match=re.escape("bare.lua: no `-- KEYS:` line")):
        LuaScript.load(bare).declared("KEYS")


def test_no_lua_left_in_python_strings() -> None:
    found = []
    for path in sorted(p for d in ("shared", "services") for p in (ROOT / d).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "redis.call(" in node.value:
                found.append(path.relative_to(ROOT).as_posix())
    assert found == []
