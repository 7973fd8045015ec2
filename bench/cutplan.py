"""Benchmark of the gate planner: time to plan one zone, SciPy and networkx side by side.

Networks: square grids of about 10k, 100k and 500k roads (zone = the central third, a block of
junctions), the Helsinki OSM extract (zone = junctions inside a central box) and CUMCM 2011 B
District A. Every planning time stands beside a baseline measured in the same run: the time to
build the road network (generate the grid, or read the file), with the ratio. The time to build
the flow graph alone is reported as well. Medians of a few runs; networkx on the largest grid
runs once in a child process and is abandoned after --nx-timeout seconds.

    .venv/bin/python bench/cutplan.py            # about 3-4 minutes on 2 cores
    .venv/bin/python bench/cutplan.py --quick    # 10k and 100k grids only, fewer runs
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lianfang.engines import cutplan, roadnet  # noqa: E402
from lianfang.engines.roadnet import Edge, Network  # noqa: E402

SHARED = ROOT.parent / "shared"
CUMCM = SHARED / "benchmarks" / "road-networks" / "cumcm2011b"
HELSINKI = SHARED / "data" / "osm" / "Helsinki.osm.pbf"
GRIDS = {"10k": 71, "100k": 224, "500k": 500}  # k x k junctions: 2k(k-1) roads


def grid(k: int) -> Network:
    nodes = {f"{i}_{j}": (float(i), float(j)) for i in range(k) for j in range(k)}
    edges = [Edge(f"h{i}_{j}", f"{i}_{j}", f"{i + 1}_{j}") for i in range(k - 1) for j in range(k)]
    edges += [Edge(f"v{i}_{j}", f"{i}_{j}", f"{i}_{j + 1}") for i in range(k) for j in range(k - 1)]
    return Network(nodes, edges)


def grid_zone(k: int) -> set[str]:
    lo, hi = k // 3, 2 * k // 3
    return {f"{i}_{j}" for i in range(lo, hi) for j in range(lo, hi)}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    out: list[float] = []
    result: Any = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - t)
    return out, result


def plan_runs(net: Network, zone: set[str], mode: str, solver: str, repeat: int) -> dict[str, Any]:
    options = cutplan.PlanOptions(mode=mode, solver=solver)  # type: ignore[arg-type]
    runs, plan = timed(lambda: cutplan.plan_zone(net, zone, options), repeat)
    return {"runs_s": [round(r, 4) for r in runs], "median_s": round(statistics.median(runs), 4),
            "gates": len(plan.sites), "sites": plan.sites if len(plan.sites) <= 20 else None}


def worker(args: argparse.Namespace) -> None:
    """Child process: one networkx plan on a grid, printed as JSON."""
    net = grid(args.k)
    out = plan_runs(net, grid_zone(args.k), args.mode, "networkx", 1)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))


def networkx_in_child(k: int, mode: str, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--k", str(k), "--mode", mode]
    t = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"skipped": f"exceeded the {timeout:.0f} s limit", "median_s": None, "gates": None}
    except subprocess.CalledProcessError as exc:
        return {"skipped": f"failed: {exc.stderr.strip()[-300:]}", "median_s": None, "gates": None}
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall_s_with_grid_build"] = round(time.perf_counter() - t, 2)
    return out


def row(name: str, net: Network, zone: set[str], baseline_label: str, baseline_s: list[float], mode: str,
        repeat: int, nx_repeat: int | None, nx_child: tuple[int, float] | None = None) -> dict[str, Any]:
    build_runs, _ = timed(lambda: cutplan.build_flow_graph(net, zone, cutplan.PlanOptions(mode=mode)), repeat)  # type: ignore[arg-type]
    scipy_res = plan_runs(net, zone, mode, "scipy", repeat)
    if nx_child is not None:
        nx_res = networkx_in_child(nx_child[0], mode, nx_child[1])
    elif nx_repeat:
        nx_res = plan_runs(net, zone, mode, "networkx", nx_repeat)
    else:
        nx_res = {"skipped": "not run", "median_s": None, "gates": None}
    base = statistics.median(baseline_s)
    if nx_res.get("gates") is not None:
        assert nx_res["gates"] == scipy_res["gates"], (name, mode, nx_res["gates"], scipy_res["gates"])
    out = {
        "network": name, "edges": len(net.edges), "junctions": len(net.nodes), "zone_junctions": len(zone),
        "entry_roads": len(cutplan.entry_edges(net, zone)), "mode": mode,
        "baseline": baseline_label, "baseline_s": round(base, 4),
        "flow_graph_build_s": round(statistics.median(build_runs), 4),
        "scipy": scipy_res | {"ratio": round(scipy_res["median_s"] / base, 2)},
        "networkx": nx_res | ({"ratio": round(nx_res["median_s"] / base, 2)} if nx_res.get("median_s") else {}),
    }
    nx_s = f"{nx_res['median_s']:.3f} s" if nx_res.get("median_s") else nx_res.get("skipped", "")
    print(f"{name:>16} {mode:>8} edges={len(net.edges):>7} gates={scipy_res['gates']:>4} base={base:.3f}s "
          f"scipy={scipy_res['median_s']:.3f}s networkx={nx_s}", flush=True)
    return out


def runs(n: int) -> str:
    return "1 run" if n == 1 else f"{n} runs"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"## Gate planner (plan one zone), {report['date']}",
        "",
        f"Command: `{report['command']}` ({report['cpus']} cores, Python {report['python']}, "
        f"SciPy {report['scipy']}, networkx {report['networkx']}; whole run {report['total_s']:.0f} s). "
        "Median of the runs shown; baseline = building the road network in the same run "
        "(generating the grid, or reading the file); ratio = plan time / baseline. "
        "Plan time covers validation, building the flow graph, the max-flow and reading the cut.",
        "",
        "| network | roads | zone junctions | entry roads | mode | gates | baseline | flow graph | SciPy | ratio "
        "| networkx | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        s, n = r["scipy"], r["networkx"]
        n_time = f"{n['median_s']:.3f} s ({runs(len(n['runs_s']))})" if n.get("median_s") else n.get("skipped", "")
        lines.append(
            f"| {r['network']} | {r['edges']:,} | {r['zone_junctions']:,} | {r['entry_roads']:,} | {r['mode']} | {s['gates']} "
            f"| {r['baseline']} {r['baseline_s']:.3f} s | {r['flow_graph_build_s']:.3f} s "
            f"| {s['median_s']:.3f} s ({runs(len(s['runs_s']))}) | {s['ratio']} | {n_time} | {n.get('ratio', '—')} |"
        )
    lines += ["", *report["notes"], ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 100k grids only, fewer runs")
    parser.add_argument("--nx-timeout", type=float, default=120.0, help="limit for networkx on the 500k grid (s)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cutplan.json"))
    parser.add_argument("--md", default="/tmp/cutplan-bench.md")  # noqa: S108
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="junction", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    import networkx
    import scipy

    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    notes: list[str] = []

    # CUMCM 2011 B, District A: the known answers 12 (junctions) and 15 (roads)
    nodes_text, edges_text = (CUMCM / "nodes.csv").read_text(), (CUMCM / "edges.csv").read_text()
    read_runs, net = timed(lambda: roadnet.read_csv(nodes_text, edges_text), 5)
    zone = {r["id"] for r in csv.DictReader(io.StringIO(nodes_text)) if r["district"] == "1"}
    for mode, expect in (("junction", 12), ("edge", 15)):
        r = row("CUMCM District A", net, zone, "read CSV", read_runs, mode, 5, 5)
        assert r["scipy"]["gates"] == expect, r
        results.append(r)

    # Helsinki: junctions inside a central box of a third of the extract's width and height
    read_runs, net = timed(lambda: roadnet.read_osm(HELSINKI), 5)
    xs = sorted(x for x, _ in net.nodes.values())
    ys = sorted(y for _, y in net.nodes.values())
    cx, cy, dx, dy = xs[len(xs) // 2], ys[len(ys) // 2], (xs[-1] - xs[0]) / 6, (ys[-1] - ys[0]) / 6
    box = [(cx - dx, cy - dy), (cx + dx, cy - dy), (cx + dx, cy + dy), (cx - dx, cy + dy)]
    zone = cutplan.zone_from_polygon(net, box)
    for mode in ("junction", "edge"):
        results.append(row("Helsinki.osm.pbf", net, zone, "read_osm", read_runs, mode, 5, 5))
    notes.append(f"Helsinki zone: junctions inside the box {[(round(x, 5), round(y, 5)) for x, y in box]} (lon, lat).")

    sizes = ["10k", "100k"] if args.quick else ["10k", "100k", "500k"]
    for label in sizes:
        k = GRIDS[label]
        build_runs, net = timed(functools.partial(grid, k), 3 if label != "500k" else 2)
        zone = grid_zone(k)
        side = 2 * k // 3 - k // 3
        for mode, expect in (("junction", 4 * side - 4), ("edge", 4 * side)):
            if label == "10k":
                r = row(f"grid {label}", net, zone, "build grid", build_runs, mode, 5, 3)
            elif label == "100k":
                r = row(f"grid {label}", net, zone, "build grid", build_runs, mode, 3, 1 if args.quick else 2)
            elif mode == "junction":
                r = row(f"grid {label}", net, zone, "build grid", build_runs, mode, 3, None, (k, args.nx_timeout))
            else:
                r = row(f"grid {label}", net, zone, "build grid", build_runs, mode, 3, None)
            assert r["scipy"]["gates"] == expect, (label, mode, r["scipy"]["gates"], expect)
            results.append(r)
        del net
    if not args.quick:
        notes.append("networkx on the 500k grid: junction mode only, one run in a child process "
                     f"(limit {args.nx_timeout:.0f} s, grid build included in the child's wall time); edge mode not run.")
    notes.append("Grids: k x k junctions, zone = the central block of (k/3)^2 junctions; expected gates "
                 "4s - 4 (junction: the inside corners close two roads each) and 4s (edge) for a block of side s, asserted.")

    report = {
        "date": dt.date.today().isoformat(),
        "command": ".venv/bin/python bench/cutplan.py" + (" --quick" if args.quick else ""),
        "python": platform.python_version(), "scipy": scipy.__version__, "networkx": networkx.__version__,
        "cpus": os.cpu_count(), "total_s": round(time.perf_counter() - started, 1),
        "results": results, "notes": notes,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    Path(args.md).write_text(markdown(report), encoding="utf-8")
    print(f"wrote {args.out} and {args.md} in {report['total_s']} s")


if __name__ == "__main__":
    main()
