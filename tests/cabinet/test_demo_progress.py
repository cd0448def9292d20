"""The demo's progress bar: redrawn in place on a terminal, plain lines into a log."""

import io

from metersim._cabinet.demo import progress_bar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def feed(out, steps=200, total_s=86400.0):
    show = progress_bar(out)
    for i in range(1, steps + 1):
        show(total_s * i / steps, total_s, i * 1.5)
    return out.getvalue()


def test_a_log_gets_a_line_per_tenth_of_the_run():
    text = feed(io.StringIO())
    lines = text.splitlines()
    assert "\r" not in text and len(lines) == 11
    assert lines[-1].startswith("[" + "#" * 40 + "]") and "24.00/24.00 h" in lines[-1]


def test_a_terminal_gets_the_bar_redrawn_in_place():
    text = feed(Terminal())
    assert text.count("\r") == 200 and text.count("\n") == 1 and text.endswith("real time\n")
