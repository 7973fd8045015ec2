"""Synthetic import files in the template's layout, for tests, benchmarks and trying the import."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from openpyxl import Workbook
from stdnum.cn import ric

from lianfang.core.importer import COLUMNS

HEADER = [labels[0] for _f, labels, _r, _h in COLUMNS]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平"]


def resident_id(i: int, region: str = "330114") -> str:
    """A valid, unique-per-i 18-digit ID: birth date steps a day every 500 people."""
    birth = datetime.date(1940, 1, 1) + datetime.timedelta(days=i // 500)
    body = f"{region}{birth:%Y%m%d}{i % 500 + 100:03d}"
    return body + ric.calc_check_digit(body + "0")


def rows(n: int, village: str = "新围村", household_prefix: str = "T", start: int = 0) -> Iterator[list[str]]:
    for k in range(start, start + n):
        household = f"{household_prefix}{k // 3:06d}"
        yield [village, "", "", "", f"{k // 3 + 1}号", household, "户主" if k % 3 == 0 else "子女",
               SURNAMES[k % len(SURNAMES)] + GIVEN[(k // 7) % len(GIVEN)], "居民身份证", resident_id(k),
               f"139{k:08d}", "户籍", "否", "否", "否", "否", "否"]


def write_csv(path: Path, data: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER)
    writer.writerows(data)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, data: Sequence[Sequence[object]]) -> Path:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人员")
    ws.append(HEADER)
    for row in data:
        ws.append(row)
    wb.save(path)
    return path


def break_check_digit(id_number: str) -> str:
    last = id_number[-1]
    return id_number[:-1] + ("0" if last != "0" else "1")
