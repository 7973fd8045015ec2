"""Benchmark: the demo zone's roster (8 gates x 3 shifts x 28 days, 120 staff) within 60 s on 2 cores.

The staff, demand and roster rows are made by the same code as the demo (lianfang.rosters.demo.
create_zone_roster) in a throw-away SQLite database; the roster is turned into a solver problem by
the app (lianfang.rosters.services.build_problem) and solved as the app does (roster_split: gate
teams solved as independent parts). Baseline in the same run: the same problem as one CP-SAT model
(lianfang.engines.roster.solve) with the same time limit. Target: a proven optimum, or a gap of at
most 1 %, within 60 s.

    .venv/bin/python bench/roster_zone.py                  # 2 x 60 s
    .venv/bin/python bench/roster_zone.py --time-limit 30 --seeds 2022,7
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import setup_django  # noqa: E402


def result(sol: Any, seconds: float) -> dict[str, Any]:
    return {"status": sol.status, "objective": sol.objective, "bound": sol.bound,
            "gap_pct": round(100 * sol.gap, 2) if sol.status in ("optimal", "feasible") else None,
            "seconds": round(seconds, 1), "shortfall_people": sum(s.missing for s in sol.shortfalls),
            "breakdown": sol.breakdown}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seeds", default="2022")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "roster_zone.json"))
    args = parser.parse_args()
    setup_django(Path(tempfile.mkdtemp(prefix="lianfang-bench-")))
    from django.utils import timezone

    from lianfang.checkpoints.models import Gate
    from lianfang.core.models import SubDistrict, Village, Zone
    from lianfang.engines import roster, roster_split
    from lianfang.rosters import services
    from lianfang.rosters.demo import create_zone_roster

    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        sub = SubDistrict.objects.create(code=f"9{seed:08d}"[-9:], name=f"基准街道{seed}")
        zone = Zone.objects.create(subdistrict=sub, name="联防区")
        villages = [Village.objects.create(subdistrict=sub, code=f"{sub.code}{i:03d}", name=f"村{i}") for i in range(5)]
        gates = [Gate.objects.create(subdistrict=sub, zone=zone, name=f"{i + 1}号卡口") for i in range(8)]
        start = timezone.localdate() + dt.timedelta(days=1)
        row = create_zone_roster(sub, gates, start, villages=villages, seed=seed)
        problem = services.build_problem(row).problem
        size = {"gates": len(gates), "days": problem.days, "shifts": len(problem.shifts), "staff": len(problem.staff),
                "demand_people": sum(d.required for d in problem.demand if d.skill is None)}
        t = time.perf_counter()
        split = roster_split.solve_split(problem, time_limit_s=args.time_limit, workers=2)
        split_s = time.perf_counter() - t
        assert roster.check(problem, split.assignments, split.posts) == []
        t = time.perf_counter()
        whole = roster.solve(problem, time_limit_s=args.time_limit, workers=2)
        whole_s = time.perf_counter() - t
        run = {"seed": seed, **size, "by_gate_teams": result(split, split_s), "one_model": result(whole, whole_s),
               "target_met": split.status == "optimal" or split.gap <= 0.01}
        print(json.dumps(run, ensure_ascii=False), flush=True)
        runs.append(run)
    report = {"date": dt.date.today().isoformat(), "command": ".venv/bin/python bench/roster_zone.py"
              + (f" --time-limit {args.time_limit:g}" if args.time_limit != 60 else "")
              + (f" --seeds {args.seeds}" if args.seeds != "2022" else ""),
              "python": platform.python_version(), "cpus": os.cpu_count(), "time_limit_s": args.time_limit, "runs": runs}
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
