"""Benchmark of the 群接龙 engine: parse + match the labelled corpus and a synthetic 5,000-entry chain.

Measures entries per second of ``parse_chain`` + ``match_entries`` (member index built on every call,
as the application does; Member objects built once, outside the timing), accuracy and wrong matches
against the labels of ``tests/data/jielong_corpus.json``, and the same for a generated chain of
5,000 entries against 40 members whose truth is known by construction. Every timing stands beside a
baseline measured in the same run on the same text: ``str.splitlines()`` plus the format's entry
regex ``^(\\d+)\\.\\s*(.*)$`` (what a bare split does, no fields, no matching), with the ratio.

    .venv/bin/python bench/jielong.py            # about 5 seconds
    .venv/bin/python bench/jielong.py --runs 3   # quicker
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lianfang.engines.jielong import Match, Member, match_entries, parse_chain  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "jielong_corpus.json"
COMMAND = ".venv/bin/python bench/jielong.py"
TARGET = 20_000  # entries per second
BASELINE_RE = re.compile(r"^(\d+)\.\s*(.*)$")


def baseline_split(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        m = BASELINE_RE.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


# ------------------------------------------------------------------------------------------ corpus


def members_of(chain: dict[str, Any]) -> list[Member]:
    return [Member(m["key"], m["name"], m["house"], tuple(m["nicknames"])) for m in chain["members"]]


def score_corpus(chains: list[dict[str, Any]], members: list[list[Member]]) -> dict[str, Any]:
    total = right = wrong = matched = ambiguous = unknown = 0
    misses: list[str] = []
    for chain, mems in zip(chains, members, strict=True):
        results: dict[int, Match] = {}
        for r in match_entries(parse_chain(chain["text"]).entries, mems):
            results.setdefault(r.entry.number, r)
        for exp in chain["expected"]:
            total += 1
            found = results.get(exp["number"])
            if found is None:
                misses.append(f"{chain['group']} #{exp['number']}: not parsed")
                continue
            r = found
            matched += r.outcome == "matched"
            ambiguous += r.outcome == "ambiguous"
            unknown += r.outcome == "unknown"
            if r.member_key is not None and r.member_key != exp["member"]:
                wrong += 1
            e = r.entry
            got = {"member": r.member_key, "ambiguous": r.outcome == "ambiguous", "status": e.status,
                   "temperature": e.temperature, "at_home": e.at_home, "household_size": e.household_size,
                   "signals": list(e.signals)}
            if got == {k: exp[k] for k in got}:
                right += 1
            else:
                misses.append(f"{chain['group']} #{exp['number']} {e.raw}")
    return {"entries": total, "right": right, "accuracy": round(right / total, 4), "wrong_matches": wrong,
            "matched": matched, "ambiguous": ambiguous, "unknown": unknown, "misses": misses}


def bench_corpus(runs: int, passes: int) -> dict[str, Any]:
    doc = json.loads(CORPUS.read_text(encoding="utf-8"))
    chains = doc["chains"]
    members = [members_of(c) for c in chains]
    texts = [c["text"] for c in chains]
    score = score_corpus(chains, members)  # also warms the caches (pinyin of names, houses)
    entries = score["entries"] * passes

    def engine() -> None:
        for _ in range(passes):
            for text, mems in zip(texts, members, strict=True):
                match_entries(parse_chain(text).entries, mems)

    def base() -> None:
        for _ in range(passes):
            for text in texts:
                baseline_split(text)

    eng, bl = timed(engine, runs), timed(base, runs)
    return {"chains": len(chains), "passes_per_run": passes, **timing(entries, eng, bl), **score}


def timing(entries: int, engine_s: list[float], baseline_s: list[float]) -> dict[str, Any]:
    e, b = statistics.median(engine_s), statistics.median(baseline_s)
    return {"entries_timed_per_run": entries, "runs_s": [round(x, 4) for x in engine_s], "median_s": round(e, 4),
            "entries_per_s": round(entries / e), "baseline_runs_s": [round(x, 4) for x in baseline_s],
            "baseline_median_s": round(b, 5), "baseline_entries_per_s": round(entries / b),
            "ratio": round(e / b, 1)}


# --------------------------------------------------------------------------------------- synthetic

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["建国", "秀英", "志强", "桂芳", "金宝", "海燕", "丽萍", "德胜", "春花", "永明", "晓东", "美玲", "长青", "玉兰",
         "国庆", "金根", "小芬", "福生", "月英", "志刚"]
ANSWERS = [("无", "ok"), ("无异常", "ok"), ("无外来人员 无发热", "ok"), ("正常", "ok"), ("✅", "ok"), ("没有", "ok"),
           ("有外来人员", "visitor"), ("家里来了外地亲戚", "visitor"), ("发烧37.8", "symptom"), ("有点咳嗽", "symptom"),
           ("儿子从杭州回来了", "other"), ("停车场内有辆外地小货车，司机一直没下来", "visitor")]


def synthetic(n_entries: int, n_members: int, seed: int = 7) -> tuple[str, list[Member], list[tuple[str | None, str]]]:
    """A chain of n_entries against n_members households; truth per entry: (member key or None, status)."""
    rnd = random.Random(seed)
    members: list[Member] = []
    names: set[str] = set()
    while len(members) < n_members:
        name = rnd.choice(SURNAMES) + rnd.choice(GIVEN)
        if name in names:
            continue
        names.add(name)
        i = len(members)
        nick = (f"阿{GIVEN[i % len(GIVEN)][-1]}{i}",) if i % 8 == 0 else ()
        members.append(Member(f"s{i:02d}", name, f"9组{i + 1}号", nick))
    # two members share a name with others: only the house tells them apart
    members[-1] = Member(members[-1].key, members[0].name, members[-1].house)
    members[-2] = Member(members[-2].key, members[1].name, members[-2].house)
    dup = {members[0].name, members[1].name}
    truth: list[tuple[str | None, str]] = []
    lines = ["#接龙", "新围村九组 报平安", "例 姓名 门牌 在家人数 有无外来人员", ""]
    for n in range(1, n_entries + 1):
        m = members[rnd.randrange(n_members)]
        answer, status = ANSWERS[rnd.randrange(len(ANSWERS))] if rnd.random() < 0.3 else ANSWERS[0]
        kind = rnd.randrange(10)
        key: str | None
        count = f"{rnd.randint(1, 4)}/{rnd.randint(4, 6)}" if n % 2 else f"在家{rnd.randint(1, 5)}人"
        if kind == 0:
            body, key = f"{m.house} {count} {answer}", m.key
        elif kind == 1 and m.nicknames:
            body, key = f"{m.nicknames[0]} {m.house} {answer}", m.key
        elif kind == 2:
            body, key = f"{m.name}爱人 {m.house} {count} {answer}", m.key
        elif kind == 3:
            body, key = f"{m.name} {answer}", None if m.name in dup else m.key
        elif kind == 4:
            body, key = f"路人{n} {count} {answer}", None
        elif kind == 5:
            body, key = f"{m.name}{m.house}\n{count} {answer}", m.key
        else:
            body, key = f"🌸{m.name} {m.house} {count} 36.{rnd.randint(1, 9)} {answer}", m.key
        if "37.8" in answer or "咳嗽" in answer:
            status = "symptom"
        lines.append(f"{n}. {body}")
        truth.append((key, status))
    lines += ["", "以上为今日接龙"]
    return "\n".join(lines) + "\n", members, truth


def bench_synthetic(runs: int, n_entries: int, n_members: int) -> dict[str, Any]:
    text, members, truth = synthetic(n_entries, n_members)
    results = match_entries(parse_chain(text).entries, members)
    assert len(results) == len(truth), (len(results), len(truth))
    wrong = sum(r.member_key is not None and r.member_key != k for r, (k, _) in zip(results, truth, strict=True))
    right = sum(r.member_key == k and r.entry.status == s for r, (k, s) in zip(results, truth, strict=True))
    parse_s = timed(lambda: parse_chain(text), runs)
    entries = parse_chain(text).entries
    match_s = timed(lambda: match_entries(entries, members), runs)
    eng = timed(lambda: match_entries(parse_chain(text).entries, members), runs)
    bl = timed(lambda: baseline_split(text), runs)
    return {"entries": n_entries, "members": n_members, "bytes": len(text.encode()), **timing(n_entries, eng, bl),
            "parse_only_median_s": round(statistics.median(parse_s), 4),
            "match_only_median_s": round(statistics.median(match_s), 4),
            "right": right, "accuracy": round(right / n_entries, 4), "wrong_matches": wrong,
            "matched": sum(r.outcome == "matched" for r in results),
            "ambiguous": sum(r.outcome == "ambiguous" for r in results),
            "unknown": sum(r.outcome == "unknown" for r in results)}


# ----------------------------------------------------------------------------------------- report


def markdown(report: dict[str, Any]) -> str:
    c, s = report["corpus"], report["synthetic"]
    lines = [
        f"## WeChat 群接龙 parsing and matching, {report['date']}",
        "",
        f"Command: `{report['command']}` ({report['cpus']} cores, Python {report['python']}; whole run "
        f"{report['total_s']:.0f} s). Median of {report['runs']} runs. Engine = `parse_chain` + `match_entries` "
        "(member index rebuilt on every call). Baseline, same run, same text: `str.splitlines()` + the entry "
        "regex `^(\\d+)\\.\\s*(.*)$`, no fields and no matching; ratio = engine time / baseline time. "
        f"Target: {TARGET:,} entries/s, at least 99% right, no wrong match.",
        "",
        "| input | entries | engine | entries/s | baseline | baseline entries/s | ratio | right | wrong matches "
        "| matched / ambiguous / unknown |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| labelled corpus ({c['chains']} chains, {c['entries']} entries) × {c['passes_per_run']} | "
        f"{c['entries_timed_per_run']:,} | {c['median_s'] * 1000:.0f} ms | {c['entries_per_s']:,} "
        f"| {c['baseline_median_s'] * 1000:.1f} ms | {c['baseline_entries_per_s']:,} | {c['ratio']} "
        f"| {c['right']}/{c['entries']} ({c['accuracy']:.1%}) | {c['wrong_matches']} "
        f"| {c['matched']} / {c['ambiguous']} / {c['unknown']} |",
        f"| synthetic chain, {s['members']} members ({s['bytes'] / 1024:.0f} KB) | {s['entries']:,} "
        f"| {s['median_s'] * 1000:.0f} ms | {s['entries_per_s']:,} | {s['baseline_median_s'] * 1000:.1f} ms "
        f"| {s['baseline_entries_per_s']:,} | {s['ratio']} | {s['right']:,}/{s['entries']:,} ({s['accuracy']:.1%}) "
        f"| {s['wrong_matches']} | {s['matched']:,} / {s['ambiguous']:,} / {s['unknown']:,} |",
        "",
        f"Synthetic chain split: parsing {s['parse_only_median_s'] * 1000:.0f} ms, matching "
        f"{s['match_only_median_s'] * 1000:.0f} ms. \"Right\" on the corpus means number, member (or ambiguous/unknown), "
        "status, signals, temperature and counts all equal the labels; on the synthetic chain, member and status "
        "(truth known by construction). The corpus and the engine were written by the same author, so its "
        "accuracy is optimistic; chains 16 and 17 were written before the engine was run on them.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--passes", type=int, default=20, help="passes over the corpus per timed run")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "jielong.json"))
    parser.add_argument("--md", default="/tmp/jielong-bench.md")  # noqa: S108
    args = parser.parse_args()
    started = time.perf_counter()
    corpus = bench_corpus(args.runs, args.passes)
    print(f"corpus: {corpus['entries_per_s']:,} entries/s (baseline {corpus['baseline_entries_per_s']:,}/s, "
          f"ratio {corpus['ratio']}), right {corpus['right']}/{corpus['entries']}, wrong matches {corpus['wrong_matches']}",
          flush=True)
    synth = bench_synthetic(args.runs, 5000, 40)
    print(f"synthetic: {synth['entries_per_s']:,} entries/s (baseline {synth['baseline_entries_per_s']:,}/s, "
          f"ratio {synth['ratio']}), right {synth['right']}/{synth['entries']}, wrong matches {synth['wrong_matches']}",
          flush=True)
    report = {
        "date": dt.date.today().isoformat(), "command": COMMAND, "python": platform.python_version(),
        "cpus": os.cpu_count(), "runs": args.runs, "target_entries_per_s": TARGET,
        "total_s": round(time.perf_counter() - started, 1), "corpus": corpus, "synthetic": synth,
        "meets_targets": bool(min(corpus["entries_per_s"], synth["entries_per_s"]) >= TARGET
                              and corpus["accuracy"] >= 0.99 and corpus["wrong_matches"] == 0
                              and synth["wrong_matches"] == 0),
    }
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    Path(args.md).write_text(markdown(report), encoding="utf-8")
    print(f"wrote {args.out} and {args.md}; meets targets: {report['meets_targets']}")


if __name__ == "__main__":
    main()
