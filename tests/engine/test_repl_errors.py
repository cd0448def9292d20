"""Malformed .repl files give a PlatformError naming file, line, column and what was expected."""

import pytest

from metersim._engine.repl import ReplSyntaxError, load_platform, parse_platform_string
from metersim._errors import MetersimError, PlatformError


def first_line(text, name="platforms/x.repl", **kw):
    with pytest.raises(PlatformError) as info:
        parse_platform_string(text, name=name, **kw)
    return str(info.value).splitlines()[0]


def test_missing_colon_after_entry_name():
    text = "usart1: UART.STM32_UART @ sysbus 0x40011000\n    -> nvic@37\nusart2 @ sysbus 0x40004400\n"
    assert first_line(text) == "platforms/x.repl:3:8: expected ':' after entry name 'usart2', found '@'"


def test_error_carries_position_and_shows_the_line_with_a_caret():
    with pytest.raises(ReplSyntaxError) as info:
        parse_platform_string("x: T\n    size 0x100\n", name="b.repl")
    err = info.value
    assert isinstance(err, MetersimError)
    assert (err.file, err.line, err.column) == ("b.repl", 2, 10)
    assert str(err).splitlines()[1:] == ["        size 0x100", "             ^"]
    assert "expected ':' or '->' after 'size', found number 0x100" in str(err)


def test_indentation_not_a_multiple_of_four():
    assert first_line("x: T @ sysbus 0x0\n      size: 3\n") == \
        "platforms/x.repl:2:7: indentation of 6 spaces is not a multiple of 4"


def test_indentation_two_levels_deeper_and_indented_first_line_and_tabs():
    assert "2:9: indented 2 levels deeper" in first_line("x: T\n        size: 1\n")
    assert "1:5: the first line of a platform description cannot be indented" in first_line("    x: T\n")
    assert "2:1: tab in indentation" in first_line("x: T\n\tsize: 1\n")


def test_unterminated_strings():
    assert first_line('x: T\n    name: "abc\n') == \
        "platforms/x.repl:2:11: unterminated string: missing closing '\"' on this line"
    assert "unterminated ''' string" in first_line("x: T\n    a: '''abc\n")


def test_value_and_connection_errors():
    assert first_line("x: T\n    size: 12ab\n").endswith("2:11: malformed number '12ab'")
    assert first_line("x: T\n    [0-3] -> nvic@[1-2]\nnvic: N\n").endswith(
        "2:14: 4 source(s) but 2 pin(s) on 'nvic': the counts must match")
    assert first_line("x: T\n    -> nvic 3\n").endswith(
        "2:13: expected '@' and a pin number after receiver 'nvic', found number 3")
    assert first_line("x: T @ sysbus <0x100, 0x10>\n").endswith("1:23: range end 0x10 is below its start 0x100")
    assert first_line("x: T\n    size:\n").endswith("2:10: expected a value for 'size', found the end of the indented block")
    assert first_line("x: T @ sysbus 0x10 0x20\n").endswith("1:20: expected the end of entry 'x', found number 0x20")
    assert first_line("x: T { a: 1; }").endswith("found '}'")


def test_structure_errors():
    assert "2:1: 'using' lines must come before all entries" in first_line('x: T\nusing "a.repl"\n')
    assert "1:3: expected a type name, '@' registration or attributes for entry 'x', found the end of the line" \
        in first_line("x:\ny: T\n")
    assert "3:1: 'x' is already declared at platforms/x.repl:1" in first_line("x: T\ny: U\nx: V\n")
    assert "2:1: entry 'foo' updates a peripheral that no file declares" in first_line("x: T\nfoo:\n    a: 1\n")
    assert "a /* */ comment that spans lines must end at the end of a line" in first_line("x: T /* a\nb */ y: U\n")
    assert "expected an indented block of monitor statements after 'init:'" in first_line("x: T\n    init: Foo\n")
    assert "malformed Tag statement" in first_line('sysbus:\n    init:\n        Tag <0x10> "X"\n')


def test_updating_a_peripheral_the_machine_already_has_is_allowed_when_named():
    p = parse_platform_string("usart1:\n    -> nvic@40\n", predeclared=["usart1", "nvic"])
    assert p["usart1"].type_name is None


def test_unknown_using_file(tmp_path):
    top = tmp_path / "top.repl"
    top.write_text('using "platforms/cpus/nope.repl"\n')
    with pytest.raises(PlatformError) as info:
        load_platform(top, search_paths=[tmp_path])
    msg = str(info.value).splitlines()[0]
    assert msg.startswith(f"{top}:1:7: using file 'platforms/cpus/nope.repl' not found (looked in: {tmp_path}")


def test_using_cycle_is_an_error(tmp_path):
    (tmp_path / "a.repl").write_text('using "./b.repl"\nx: T\n')
    (tmp_path / "b.repl").write_text('using "./a.repl"\ny: T\n')
    with pytest.raises(PlatformError, match=r"b\.repl:1:7: using cycle: .*a\.repl -> .*b\.repl -> .*a\.repl"):
        load_platform(tmp_path / "a.repl", search_paths=[])


def test_file_that_includes_itself(tmp_path):
    (tmp_path / "a.repl").write_text('using "./a.repl"\n')
    with pytest.raises(PlatformError, match="using cycle"):
        load_platform(tmp_path / "a.repl", search_paths=[])


def test_missing_platform_file(tmp_path):
    with pytest.raises(PlatformError, match="nope.repl: platform description not found"):
        load_platform(tmp_path / "nope.repl")
