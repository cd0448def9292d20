"""Host test of the firmware's calendar arithmetic (firmware/bsp/stm32/date.c): seconds since
2000-01-01 00:00:00 <-> date and time, as both units of the meter and the cabinet's
controllers stamp records, freezes and tariff periods with it. The C file is compiled with the
host `cc` under ASan/UBSan and checked against Python's own calendar: every day from 2000 to
the end of the 32-bit count (2136), the last second of each of those days, and the validity
check at month ends (leap years 2000, 2024, 2096; 2100 is not)."""

import datetime
import subprocess

import pytest

from tests.conftest import REPO
from tests.firmware.host_c import build_host_c

BSP = REPO / "firmware" / "bsp"
EPOCH = datetime.datetime(2000, 1, 1)

HARNESS = r"""
#include <stdio.h>
#include "bsp_date.h"
int main(void)
{
    char cmd;
    unsigned long a, b, c, d, e, f;
    while (scanf(" %c", &cmd) == 1) {
        if (cmd == 's' && scanf("%lu", &a) == 1) {          /* seconds -> date -> seconds */
            struct bsp_datetime dt;
            bsp_date_from_secs((uint32_t)a, &dt);
            printf("%u %u %u %u %u %u %lu\n", dt.year, dt.month, dt.day, dt.hour, dt.min, dt.sec,
                   (unsigned long)bsp_date_to_secs(&dt));
        } else if (cmd == 'v' && scanf("%lu %lu %lu %lu %lu %lu", &a, &b, &c, &d, &e, &f) == 6) {
            struct bsp_datetime dt = {(uint16_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d,
                                      (uint8_t)e, (uint8_t)f};
            printf("%d\n", bsp_date_valid(&dt));
        }
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def date_exe():
    return build_host_c("bsp_date_test", [BSP / "stm32" / "date.c"], harness=HARNESS,
                        include_dirs=[BSP / "include", BSP / "stm32"])


def run(exe, lines: list[str]) -> list[str]:
    r = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_every_day_and_its_last_second_both_ways(date_exe):
    last_day = (2**32 - 1) // 86400
    secs = []
    for day in range(last_day + 1):
        secs.append(day * 86400)
        if day < last_day:
            secs.append(day * 86400 + 86399)
    secs.append(2**32 - 1)
    secs += [1_796_558_400 + k * 3_611 for k in range(2000)]    # 2026-12: odd steps
    out = run(date_exe, [f"s {s}" for s in secs])
    assert len(out) == len(secs)
    for s, line in zip(secs, out):
        t = EPOCH + datetime.timedelta(seconds=s)
        want = f"{t.year} {t.month} {t.day} {t.hour} {t.minute} {t.second} {s}"
        assert line == want, f"{s} s: the firmware says {line!r}, the calendar {want!r}"


def test_validity_at_month_ends(date_exe):
    cases = []
    for y in (1999, 2000, 2001, 2024, 2025, 2096, 2099, 2100):
        for m in range(0, 14):
            for d in (0, 1, 28, 29, 30, 31, 32):
                cases.append((y, m, d, 23, 59, 59))
    cases += [(2026, 12, 7, 24, 0, 0), (2026, 12, 7, 0, 60, 0), (2026, 12, 7, 0, 0, 60)]
    out = run(date_exe, ["v " + " ".join(map(str, c)) for c in cases])

    def valid(y, m, d, hh, mm, ss):
        if not 2000 <= y <= 2099 or hh > 23 or mm > 59 or ss > 59:
            return 0
        try:
            datetime.date(y, m, d)
        except ValueError:
            return 0
        return 1

    assert out == [str(valid(*c)) for c in cases]
