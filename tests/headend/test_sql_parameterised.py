"""Parameterised SQL only: no SQL text in the head end (its code and its migrations) is built
from strings. Every string handed to a database call (`execute`, `exec_driver_sql`, `text`,
`scalar`, `scalars`, `op.execute`) is a literal, and no f-string, `%` or `+` concatenation or
`.format` call anywhere in the head end makes text that starts like a SQL statement. The ORM
and SQLAlchemy Core (select, insert, update with bound values) are the only query builders."""

import ast
import re
from pathlib import Path

import pytest

import metersim._headend

HEADEND = Path(metersim._headend.__file__).parent
SOURCES = sorted(HEADEND.rglob("*.py"))
DB_CALLS = {"execute", "exec_driver_sql", "text", "scalar", "scalars", "executescript"}
SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|DROP|CREATE|ALTER|PRAGMA|WITH|REPLACE|"
                       r"TRUNCATE|GRANT|SET)\b", re.I)


def _built_strings(tree):
    """(line, the literal parts) of every string built at run time."""
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value for v in node.values
                                       if isinstance(v, ast.Constant) and isinstance(v.value, str))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
            parts = [n.value for n in (node.left, node.right)
                     if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            if parts:
                yield node.lineno, "".join(parts)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "format" and isinstance(node.func.value, ast.Constant)):
            yield node.lineno, str(node.func.value.value)


def _db_call_args(tree):
    """(line, call name, first argument) of every call named like a database call."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in DB_CALLS:
                yield node.lineno, name, node.args[0]


def violations(source: str, where: str = "<src>") -> list[str]:
    tree = ast.parse(source)
    out = [f"{where}:{line}: SQL text built at run time: {text!r}"
           for line, text in _built_strings(tree) if SQL_START.match(text)]
    for line, name, arg in _db_call_args(tree):
        if isinstance(arg, (ast.JoinedStr, ast.BinOp)) or (
                isinstance(arg, ast.Call) and getattr(arg.func, "attr", "") == "format"):
            out.append(f"{where}:{line}: {name}() given a string built at run time")
    return out


def test_the_checker_finds_built_sql():
    bad = {
        'cur.execute(f"SELECT * FROM users WHERE name = \'{name}\'")': 2,
        'cur.execute("DELETE FROM rooms WHERE id = %s" % room)': 2,
        's.execute(text("SELECT 1 FROM t WHERE a = " + a))': 2,
        'q = "UPDATE users SET role = \'{}\'".format(role)': 1,
        's.exec_driver_sql(stmt + ";")': 1,
    }
    for src, n in bad.items():
        assert len(violations(src)) == n, (src, violations(src))
    for good in ('cur.execute("PRAGMA foreign_keys=ON")',
                 's.execute(select(User).where(User.name == name))',
                 'msg = f"wrong user {name}"'):
        assert violations(good) == [], good


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(HEADEND)))
def test_no_sql_text_is_built_from_strings(path):
    assert violations(path.read_text(), str(path.relative_to(HEADEND))) == []


def test_every_head_end_module_was_looked_at():
    names = {str(p.relative_to(HEADEND)) for p in SOURCES}
    assert {"api.py", "domain.py", "link.py", "db.py", "login_limit.py"} <= names
    assert any(n.startswith("migrations/versions/") for n in names)
