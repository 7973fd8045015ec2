"""Benchmarks of the register: import rows per second and person-search latency.

Runs against its own throw-away database (a temporary SQLite file, or the PostgreSQL named by
DATABASE_URL), so it never touches the demo. Every timing is reported beside a baseline measured
in the same run, as a ratio, because these machines are noisy:

- import: a bare openpyxl read of the same file (reading cells, no validation or writing);
- search: a primary-key lookup of one person through the same ORM and database.

    .venv/bin/python bench/run.py                      # 150k persons, 100k-row import
    .venv/bin/python bench/run.py --persons 20000 --import-rows 10000 --bad-row 7341   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(var_dir: Path) -> None:
    os.environ["LIANFANG_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lianfang.settings")
    os.environ["LIANFANG_TASK_BACKEND"] = "django_tasks.backends.immediate.ImmediateBackend"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(fn: Any, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_import(rows: int, bad_row: int, tmp: Path, user: Any) -> dict[str, Any]:
    from openpyxl import load_workbook

    from lianfang.core import importer, sample_files
    from lianfang.core.models import Person

    data = list(sample_files.rows(rows, household_prefix="B"))
    good = sample_files.write_xlsx(tmp / "good.xlsx", data)
    data[bad_row - 2][9] = sample_files.break_check_digit(data[bad_row - 2][9])
    bad = sample_files.write_xlsx(tmp / "bad.xlsx", data)

    t = time.perf_counter()
    wb = load_workbook(good, read_only=True)
    n = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    read_s = time.perf_counter() - t
    assert n == rows + 1

    before = Person.objects.count()
    updates: list[tuple[str, int, int]] = []
    t = time.perf_counter()
    result = importer.import_persons(bad, "bad.xlsx", user, lambda *a: updates.append(a))
    bad_s = time.perf_counter() - t
    assert not result.ok and Person.objects.count() == before, "a bad file must import nothing"
    assert [(e.row, e.column) for e in result.errors] == [(bad_row, "证件号码")], result.errors[:3]

    updates.clear()
    t = time.perf_counter()
    result = importer.import_persons(good, "good.xlsx", user, lambda *a: updates.append(a))
    good_s = time.perf_counter() - t
    assert result.ok and result.persons_created == rows
    assert Person.objects.count() == before + rows
    return {
        "rows": rows, "file_mb": round(good.stat().st_size / 1e6, 1),
        "baseline_read_s": round(read_s, 2),
        "import_s": round(good_s, 2), "rows_per_s": round(rows / good_s),
        "ratio_to_read": round(good_s / read_s, 1),
        "bad_file_s": round(bad_s, 2), "bad_row_reported": result.errors[0].row if result.errors else bad_row,
        "progress_updates": len(updates),
    }


def bench_search(repeat: int) -> dict[str, Any]:
    from django.core.paginator import Paginator
    from django.test import Client

    from lianfang.accounts.models import User
    from lianfang.core import access, services
    from lianfang.core.models import Person

    command = User.objects.get(username="command")
    cadre = User.objects.get(username="cadre_xinwei")
    zhang = Person.objects.get(name="张建伟")
    number = zhang.document_number()
    one = Person.objects.order_by("?").values_list("pk", flat=True).first()
    assert one is not None

    def baseline() -> None:
        list(Person.objects.filter(pk=one))

    base = statistics.median(timed(baseline, repeat * 4))
    queries = {
        "pinyin initials zjw": "zjw",
        "full pinyin zhangjianwei": "zhangjianwei",
        "name 张建伟": "张建伟",
        "surname 王 (many hits)": "王",
        "ID last 4": number[-4:],
        "phone last 4": zhang.phone_number()[-4:],
        "full ID": number,
    }
    results: dict[str, Any] = {"baseline_pk_ms": round(base, 2), "queries": []}
    for label, q in queries.items():
        for who, user in (("sub-district", command), ("village", cadre)):
            def run(user: Any = user, q: str = q) -> None:
                qs = services.search_persons(access.persons_for_user(user), q).select_related("village", "grid")
                page = Paginator(qs.order_by("village_id", "household_id", "pk"), 50).get_page(1)
                list(page)
            ms = timed(run, repeat)
            results["queries"].append({"query": label, "scope": who, "median_ms": round(statistics.median(ms), 1),
                                       "max_ms": round(max(ms), 1),
                                       "ratio": round(statistics.median(ms) / base, 1)})
    client = Client()
    client.force_login(command)
    for label, url in (("list page 1 (HTTP)", "/people/"), ("list page 1000 (HTTP)", "/people/?page=1000"),
                       ("search zjw (HTTP)", "/people/?q=zjw")):
        ms = timed(lambda url=url: client.get(url), repeat)
        results["queries"].append({"query": label, "scope": "sub-district", "median_ms": round(statistics.median(ms), 1),
                                   "max_ms": round(max(ms), 1), "ratio": round(statistics.median(ms) / base, 1)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=150_000)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--bad-row", type=int, default=73_412)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lianfang-bench-") as tmp_name:
        tmp = Path(tmp_name)
        setup_django(tmp)
        from django.db import connection

        from lianfang.accounts.models import User
        from lianfang.core.demo import load_demo

        t = time.perf_counter()
        load_demo(persons=args.persons)
        demo_s = time.perf_counter() - t
        search = bench_search(args.repeat)
        imp = bench_import(args.import_rows, args.bad_row, tmp, User.objects.get(username="command"))
        report = {
            "database": connection.vendor, "persons": args.persons, "demo_load_s": round(demo_s, 1),
            "search": search, "import": imp,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "python": sys.version.split()[0], "cpus": os.cpu_count(),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"register-{report['database']}.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
