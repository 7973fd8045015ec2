"""WeChat 群接龙 chains (lianfang.engines.jielong): parsing, classification, matching and the labelled corpus."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from lianfang.engines.jielong import (
    MAX_ENTRIES,
    STATUSES,
    Chain,
    ChainError,
    Entry,
    Match,
    Member,
    classify,
    match_entries,
    normalize_house,
    parse_chain,
)

CORPUS = Path(__file__).resolve().parent.parent / "data" / "jielong_corpus.json"

NOTES_EXAMPLE = """#接龙
7月12日 居家健康监测人员体温(8点前)
例 姓名 楼栋-房号 体温 有无症状

1. 王建国 6-2-301 36.5 无
2. 李秀英 6-2-302 36.7 无
"""


def chain_of(*entries: str, head: str = "#接龙\n标题\n", tail: str = "") -> str:
    return head + "\n" + "".join(f"{n}. {e}\n" for n, e in enumerate(entries, 1)) + tail


def one(text: str) -> Entry:
    """The single entry of a chain whose only entry is ``text``."""
    entries = parse_chain(chain_of(text)).entries
    assert len(entries) == 1
    return entries[0]


# ------------------------------------------------------------------------------------------ parsing


def test_notes_example() -> None:
    chain = parse_chain(NOTES_EXAMPLE)
    assert isinstance(chain, Chain)
    assert chain.title == "7月12日 居家健康监测人员体温(8点前)"
    assert chain.example == "姓名 楼栋-房号 体温 有无症状"
    assert chain.footer is None
    first, second = chain.entries
    assert first == Entry(number=1, raw="王建国 6-2-301 36.5 无", name="王建国", house="6-2-301", temperature=36.5,
                          at_home=None, household_size=None, status="ok", signals=(), line=5)
    assert (second.number, second.name, second.house, second.temperature, second.line) == (2, "李秀英", "6-2-302", 36.7, 6)


@pytest.mark.parametrize("header", ["#接龙", "#接龍", "#Group Note", "#group note", "＃接龙", "  #接龙  ", "# 接龙"])
def test_headers(header: str) -> None:
    chain = parse_chain(f"{header}\n标题\n\n1. 王建国 无\n")
    assert chain.title == "标题"
    assert [e.name for e in chain.entries] == ["王建国"]


def test_header_with_title_on_its_line_and_lines_before_it() -> None:
    chain = parse_chain("组长 张三 19:32\n#接龙 今日报平安\n1. 王建国 无\n2. 李秀英 无")
    assert chain.title == "今日报平安"
    assert [e.number for e in chain.entries] == [1, 2]
    assert chain.entries[0].line == 3


def test_title_of_several_lines_and_example_glued_to_it() -> None:
    chain = parse_chain("#接龙\n新江村五组 晚间接龙\n通知：严防外来人员\n例：姓名 门牌\n  在家人数\n1. 王建国 无\n")
    assert chain.title == "新江村五组 晚间接龙\n通知：严防外来人员"
    assert chain.example == "姓名 门牌 在家人数"
    assert len(chain.entries) == 1


def test_title_that_looks_like_a_number_and_a_title_list() -> None:
    chain = parse_chain("#接龙\n7.12 健康打卡\n1. 王建国 无\n")
    assert chain.title == "7.12 健康打卡"
    assert [e.raw for e in chain.entries] == ["王建国 无"]
    chain = parse_chain("#接龙\n三组每日报平安\n1、有无外来人员\n2、有无发热\n\n例 姓名 无\n\n1. 王建国 无\n2. 李秀英 无\n")
    assert chain.title == "三组每日报平安\n1、有无外来人员\n2、有无发热"
    assert chain.example == "姓名 无"
    assert [e.name for e in chain.entries] == ["王建国", "李秀英"]


def test_example_word_in_a_title_is_not_an_example() -> None:
    chain = parse_chain("#接龙\n例行检查 今日体温\n\n1. 王建国 36.5\n")
    assert chain.title == "例行检查 今日体温"
    assert chain.example is None


@pytest.mark.parametrize("marker", ["{n}. ", "{n}.", "{n}、", "{n} . ", "({n}) ", "{n})"])
def test_number_forms(marker: str) -> None:
    names = ["王建国", "李秀英", "张伟"]
    text = "#接龙\n标题\n\n" + "".join(marker.format(n=n) + name + " 无\n" for n, name in enumerate(names, 1))
    chain = parse_chain(text)
    assert [(e.number, e.name, e.raw) for e in chain.entries] == [
        (1, "王建国", "王建国 无"), (2, "李秀英", "李秀英 无"), (3, "张伟", "张伟 无")]


def test_full_width_digits_and_punctuation() -> None:
    chain = parse_chain("＃接龙\n标题\n\n１．王建国　６－２－３０１　３６．５　无\n２、李秀英（代）３组４５号　在家３人\n")
    first, second = chain.entries
    assert (first.number, first.name, first.house, first.temperature, first.status) == (1, "王建国", "6-2-301", 36.5, "ok")
    assert first.raw == "王建国 ６－２－３０１ ３６．５ 无"  # raw keeps what was typed, spaces collapsed
    assert (second.number, second.name, second.house, second.at_home) == (2, "李秀英", "3组45号", 3)


def test_wrapped_entries_and_blank_lines_between_entries() -> None:
    chain = parse_chain("#接龙\n标题\n\n1. 王建国 3组5号\n在家3人\n无外来人员\n\n2. 李秀英 3组2号 2/2\n\n无\n3. 张伟 无\n")
    assert [e.raw for e in chain.entries] == ["王建国 3组5号 在家3人 无外来人员", "李秀英 3组2号 2/2 无", "张伟 无"]
    assert chain.entries[0].at_home == 3
    assert chain.footer is None


def test_a_numbered_list_inside_an_entry_stays_in_it() -> None:
    chain = parse_chain("#接龙\n标题\n\n1. 王建国 说明：\n1、女儿从上海回来\n2、已做核酸\n2. 李秀英 无\n")
    assert [e.number for e in chain.entries] == [1, 2]
    assert chain.entries[0].raw == "王建国 说明： 1、女儿从上海回来 2、已做核酸"
    assert chain.entries[0].signals == ("returned",)
    assert chain.entries[1].raw == "李秀英 无"


def test_a_temperature_or_a_time_on_a_line_of_its_own_continues_the_entry() -> None:
    lines = "".join(f"{n}. 住户{n} 无\n" for n in range(1, 35))
    chain = parse_chain("#接龙\n标题\n\n" + lines + "35. 王建国 6-2-301\n36.5 无\n36. 李秀英\n8.30回来\n")
    assert [e.number for e in chain.entries] == list(range(1, 37))
    assert chain.entries[34].raw == "王建国 6-2-301 36.5 无"
    assert chain.entries[34].temperature == 36.5
    assert chain.entries[35].raw == "李秀英 8.30回来"


def test_repeated_number_and_small_gap() -> None:
    chain = parse_chain("#接龙\n标题\n\n1. 王建国 无\n1. 李秀英 无\n2. 张伟 无\n4. 陈国平 无\n99. 这是正文\n")
    assert [(e.number, e.name) for e in chain.entries] == [(1, "王建国"), (1, "李秀英"), (2, "张伟"), (4, "陈国平")]
    assert chain.entries[-1].raw == "陈国平 无 99. 这是正文"


@pytest.mark.parametrize("tail, footer", [
    ("\n以上为今日接龙\n", "以上为今日接龙"),
    ("\n以上为今日接龙，未接龙的请抓紧\n谢谢大家\n", "以上为今日接龙，未接龙的请抓紧\n谢谢大家"),
    ("以上共2人接龙\n", "以上共2人接龙"),
    ("截至20:00，还有3户未接龙\n", "截至20:00，还有3户未接龙"),
    ("\n\n", None),
])
def test_footer(tail: str, footer: str | None) -> None:
    chain = parse_chain(chain_of("王建国 无", "李秀英 无", tail=tail))
    assert chain.footer == footer
    assert [e.raw for e in chain.entries] == ["王建国 无", "李秀英 无"]


def test_emoji_anywhere() -> None:
    chain = parse_chain("#接龙\n🌞标题🌸\n\n1. 🌻王建国 6-2-301 36.5 无😊\n2. 李秀英🙏 3组2号 👍 在家2人 ✅\n")
    first, second = chain.entries
    assert (first.name, first.house, first.temperature, first.status) == ("王建国", "6-2-301", 36.5, "ok")
    assert (second.name, second.house, second.at_home, second.status) == ("李秀英", "3组2号", 2, "ok")
    assert first.raw == "🌻王建国 6-2-301 36.5 无😊"


def test_line_endings_and_invisible_characters_do_not_change_entries() -> None:
    lf = chain_of("王建国 6-2-301 36.5 无", "李秀英  3组2号\u3000在家2人 ")
    crlf = lf.replace("\n", "\r\n").replace("王建国", "王\u200b建国")
    assert [e.key for e in parse_chain(lf).entries] == [e.key for e in parse_chain(crlf).entries]
    assert parse_chain(lf).entries[1].raw == "李秀英 3组2号 在家2人"


def test_several_chains_in_one_paste_keep_the_longest() -> None:
    short = chain_of("王建国 无")
    longer = chain_of("王建国 无", "李秀英 无")
    assert [e.name for e in parse_chain(short + longer).entries] == ["王建国", "李秀英"]
    assert [e.name for e in parse_chain(longer + short).entries] == ["王建国", "李秀英"]
    assert parse_chain(short + longer).entries[0].line == 8


def test_empty_entry_text() -> None:
    chain = parse_chain("#接龙\n标题\n\n1.\n2. 张伟 无\n")
    assert [(e.number, e.raw, e.name) for e in chain.entries] == [(1, "", None), (2, "张伟 无", "张伟")]


# ----------------------------------------------------------------------------------- fields


@pytest.mark.parametrize("text, house", [
    ("王建国 6-2-301 无", "6-2-301"),
    ("王建国 6—2—301 无", "6-2-301"),
    ("王建国 ６－２－３０１ 无", "6-2-301"),
    ("王建国 6栋2单元301室 无", "6-2-301"),
    ("王建国 6幢2单元301 无", "6-2-301"),
    ("王建国 6号楼2单元301室 无", "6-2-301"),
    ("王建国6-02-301无", "6-2-301"),
    ("王建国 6-301 无", "6-301"),
    ("王建国 6栋301 无", "6-301"),
    ("王建国 3组45号 无", "3组45号"),
    ("王建国 三组45号 无", "3组45号"),
    ("王建国 十二组5号 无", "12组5号"),
    ("王建国 3组 45号 无", "3组45号"),
    ("王建国 新围村45号 无", "45号"),
    ("王建国 301室 36.5", "301"),
    ("301 王建国 36.5", "301"),
    ("王建国 36.5 无", None),
    ("王建国 在家120人", None),
])
def test_house_numbers(text: str, house: str | None) -> None:
    assert one(text).house == house


def test_normalize_house() -> None:
    assert normalize_house("6栋2单元301室") == "6-2-301"
    assert normalize_house("江东村三组12号") == "3组12号"
    assert normalize_house("村委会") == "村委会"
    assert normalize_house("  ") is None
    assert normalize_house(None) is None


@pytest.mark.parametrize("text, temperature", [
    ("王建国 36.5 无", 36.5),
    ("王建国 36.5℃ 无", 36.5),
    ("王建国 36.5度", 36.5),
    ("王建国 36.5°C", 36.5),
    ("王建国 36度5 无", 36.5),
    ("王建国 37度 无", 37.0),
    ("王建国 体温：36.8", 36.8),
    ("王建国 ３６．６", 36.6),
    ("王建国 36.5/36.7/37.5", 37.5),
    ("王建国 6-2-365 无", None),
    ("王建国 36号 无", None),
    ("王建国 无", None),
])
def test_temperatures(text: str, temperature: float | None) -> None:
    assert one(text).temperature == temperature


@pytest.mark.parametrize("text, at_home, size", [
    ("王建国 3/4 无", 3, 4),
    ("王建国 ３／４ 无", 3, 4),
    ("王建国 在家3人 无", 3, None),
    ("王建国 在家人数：3", 3, None),
    ("王建国 3人在家", 3, None),
    ("王建国 在家三人", 3, None),
    ("王建国 两人在家", 2, None),
    ("王建国 全家4人都在家", 4, 4),
    ("王建国 全家5口人", None, 5),
    ("王建国 一家三口都在家", 3, 3),
    ("王建国 4口人 在家3人", 3, 4),
    ("王建国 3人 无", 3, None),
    ("王建国 租客8人 无", None, None),
    ("王建国 亲戚来了2人", None, None),
    ("王建国 在家 36.5 无", None, None),
    ("王建国 36.5/36.7", None, None),
    ("宏达机械 在岗45/48", 45, 48),
])
def test_counts(text: str, at_home: int | None, size: int | None) -> None:
    entry = one(text)
    assert (entry.at_home, entry.household_size) == (at_home, size)


@pytest.mark.parametrize("text, name", [
    ("王建国 6-2-301 36.5 无", "王建国"),
    ("王建国6-2-301 36.5无", "王建国"),
    ("王建国无", "王建国"),
    ("王建国在家3人无异常", "王建国"),
    ("王建国家 3组5号 无", "王建国"),
    ("王 芳 36.5 无", "王芳"),
    ("6-2-301 王建国 36.5", "王建国"),
    ("王奶奶（代） 无", "王奶奶"),
    ("王奶奶(李梅代报) 无", "王奶奶"),
    ("李梅代王奶奶 3组12号 无", "王奶奶"),
    ("代报：李爷爷 无", "李爷爷"),
    ("帮钱阿姨接龙 无", "钱阿姨"),
    ("代丽华 无", "代丽华"),
    ("赵阿婆 在家1人 无 陈志强代", "赵阿婆"),
    ("Lily 3/3 无", "Lily"),
    ("Zhang Wei 无", "Zhang Wei"),
    ("宏达机械 在岗56人 无异常", "宏达机械"),
    ("张师傅 浙A·D1234 在家", "张师傅"),
    ("6-2-301 36.5 无", None),
    ("无", None),
    ("OK", None),
    ("在家3人 无", None),
])
def test_names(text: str, name: str | None) -> None:
    assert one(text).name == name


def test_helper_marks_do_not_make_the_answer_other() -> None:
    for text in ("王奶奶（代） 无", "李梅代王奶奶 无", "赵阿婆 无 陈志强代", "代报：李爷爷 无异常"):
        assert one(text).status == "ok", text


# ------------------------------------------------------------------------------------ classify


@pytest.mark.parametrize("text", ["无", "无异常", "正常", "没有", "√", "好", "一切正常", "OK", "✅", "",
                                  "无外来人员 无发热", "无外来人员、发热", "没有发热咳嗽", "外来人员：无", "有无外来人员：无",
                                  "是否有外来人员：否", "亲戚没来", "不发烧", "体温正常", "收到，谢谢组长", "暂无异常",
                                  "没有异常", "未见异常"])
def test_classify_ok(text: str) -> None:
    assert classify(text) == ("ok", ())


@pytest.mark.parametrize("text, status, signals", [
    ("有外来人员", "visitor", ("outsider",)),
    ("有无外来人员：有", "visitor", ("outsider",)),
    ("家里来了外地亲戚", "visitor", ("outsider",)),
    ("有访客", "visitor", ("outsider",)),
    ("亲戚来了", "visitor", ("outsider",)),
    ("来了两个客人", "visitor", ("outsider",)),
    ("女朋友今天从上海过来", "visitor", ("outsider",)),
    ("停车场内有辆外地小货车，司机一直没下来", "visitor", ("outsider", "vehicle")),
    ("门口停了一辆外地牌照的面包车", "other", ("vehicle",)),
    ("有车辆进出", "other", ("vehicle",)),
    ("发热", "symptom", ("symptom",)),
    ("有点发烧", "symptom", ("symptom",)),
    ("咳嗽两天了", "symptom", ("symptom",)),
    ("体温37.3", "symptom", ("symptom",)),
    ("37度5", "symptom", ("symptom",)),
    ("有外来人员 无发热", "visitor", ("outsider",)),
    ("无外来人员 有发热", "symptom", ("symptom",)),
    ("有一位客人咳嗽", "symptom", ("outsider", "symptom")),
    ("儿子今天从杭州回来了", "other", ("returned",)),
    ("从外地回来", "other", ("returned",)),
    ("昨天返乡", "other", ("returned",)),
    ("今天去医院复查", "other", ("other",)),
    ("体温异常", "other", ("other",)),
    ("身体不好", "other", ("other",)),
    ("有异常", "other", ("other",)),
    ("有", "other", ("other",)),
])
def test_classify(text: str, status: str, signals: tuple[str, ...]) -> None:
    assert classify(text) == (status, signals)
    assert status in STATUSES


def test_entry_status_ignores_its_fields() -> None:
    assert one("王建国 6-2-301 36.5 在家3人").status == "ok"
    assert one("王建国 6-2-301 37.5").status == "symptom"
    assert one("王建国 6-2-301 37.5").signals == ("symptom",)


# -------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("text", ["", "   \n ", "今天天气不错", "1. 王建国 无\n2. 李秀英 无", "#接力\n1. 王建国",
                                  "＃接龙啦\n1. x"])
def test_not_a_chain(text: str) -> None:
    with pytest.raises(ChainError) as err:
        parse_chain(text)
    assert err.value.code == "not_chain"
    assert "#接龙" in err.value.message and "1. 王建国" in err.value.message


def test_not_a_string() -> None:
    with pytest.raises(ChainError) as err:
        parse_chain(None)  # type: ignore[arg-type]
    assert err.value.code == "not_chain"


@pytest.mark.parametrize("text", ["#接龙", "#接龙\n标题\n例 姓名 门牌\n", "#接龙\n标题\n\n以上为今日接龙"])
def test_empty_chain(text: str) -> None:
    with pytest.raises(ChainError) as err:
        parse_chain(text)
    assert err.value.code == "empty"
    assert "没有任何条目" in err.value.message


def test_too_long_by_size() -> None:
    text = chain_of("王建国 无") + "说明" * 200_000  # 1.2 MB of UTF-8
    with pytest.raises(ChainError) as err:
        parse_chain(text)
    assert err.value.code == "too_long"
    assert "分成几段" in err.value.message and "MB" in err.value.message


def test_too_long_by_entries() -> None:
    ok = "#接龙\n标题\n\n" + "".join(f"{n}. 住户 无\n" for n in range(1, MAX_ENTRIES + 1))
    assert len(parse_chain(ok).entries) == MAX_ENTRIES
    with pytest.raises(ChainError) as err:
        parse_chain(ok + f"{MAX_ENTRIES + 1}. 住户 无\n")
    assert err.value.code == "too_long"
    assert str(MAX_ENTRIES) in err.value.message


def test_chain_error_pickles() -> None:
    err = ChainError("empty", "没有条目")
    again = pickle.loads(pickle.dumps(err))
    assert (again.code, again.message, str(again)) == ("empty", "没有条目", "没有条目")


# ---------------------------------------------------------------------------------- re-posts


def test_reposting_is_stable() -> None:
    rows = ["王建国 3组5号\n在家3人 无", "李秀英 3组2号 2/2 无", "张伟 无 🙏", "陈国平 3组4号 外地亲戚来了\n明天走",
            "刘美华 3/5 无"]
    keys = [e.key for e in parse_chain(chain_of(*rows, tail="\n以上为今日接龙\n")).entries]
    assert keys == [e.key for e in parse_chain(chain_of(*rows, tail="\n以上为今日接龙\n")).entries]
    for k in range(1, len(rows)):
        shorter = [e.key for e in parse_chain(chain_of(*rows[:k], tail="\n以上为今日接龙\n")).entries]
        without_footer = [e.key for e in parse_chain(chain_of(*rows[:k])).entries]
        assert shorter == without_footer == keys[:k]
    assert len(set(keys)) == len(keys)


def test_reposting_the_corpus_is_stable() -> None:
    for chain in load_corpus()["chains"]:
        text = chain["text"]
        first = [e.key for e in parse_chain(text).entries]
        assert first == [e.key for e in parse_chain(text).entries]
        assert first == [e.key for e in parse_chain(text.replace("\r\n", "\n").rstrip() + "\n\n").entries]


# ------------------------------------------------------------------------------------- matching

VILLAGE = [
    Member("m1", "王建国", "3组5号"),
    Member("m2", "王建国", "3组21号"),
    Member("m3", "李秀英", "3组2号", ("李阿姨",)),
    Member("m4", "刘德华", "2组8号"),
    Member("m5", "刘德军", "2组9号"),
    Member("m6", "周国华", "46号", ("老周",)),
    Member("m7", "周国平", "48号", ("老周",)),
    Member("m8", "何金妹", "5组3号", ("何奶奶",)),
    Member("m9", "李娜", "2-1-102", ("Lina",)),
    Member("m10", "张晓明", "2-1-201"),
    Member("m11", "杭州宏达机械有限公司", None, ("宏达机械",)),
    Member("m12", "杭州宏达电子有限公司"),
    Member("m13", "王佳慧", "2-1-501"),
    Member("m14", "王建华", "2-1-101"),
    Member("m15", "张无忌", "7组1号"),
]


def match(text: str, members: list[Member] | None = None) -> Match:
    (result,) = match_entries([one(text)], members or VILLAGE)
    return result


@pytest.mark.parametrize("text, key", [
    ("李秀英 3组2号 无", "m3"),  # exact name and house
    ("李秀英 无", "m3"),  # exact name alone
    ("李阿姨 无", "m3"),  # nickname
    ("王建国 3组21号 无", "m2"),  # two members of that name: the house decides
    ("王建国 三组5号 无", "m1"),
    ("3组2号 在家2人", "m3"),  # house alone, unique
    ("小李 3组2号 无", "m3"),  # a name not on the list, a unique house
    ("何奶奶（代） 无", "m8"),
    ("李梅代何奶奶 5组3号 无", "m8"),
    ("老周 46号 无", "m6"),  # shared nickname, the house decides
    ("Lina 无", "m9"),  # latin nickname, any case
    ("LINA 无", "m9"),
    ("zhangxiaoming 无", "m10"),  # full pinyin
    ("Zhang Xiaoming 无", "m10"),
    ("ZXM 无", "m10"),  # initials
    ("wjh 2-1-501 无", "m13"),  # initials shared by two members: the house decides
    ("李秀英 3组2号 无", "m3"),
    ("張曉明 無", "m10"),  # traditional characters
    ("ＬＩＮＡ 无", "m9"),  # full-width letters
    ("刘德化 2组8号 无", "m4"),  # one-character typo, two such members, one with that house
    ("李秀瑛 3组2号 无", "m3"),
    ("宏达机械有限公司 无", "m11"),  # part of a business name
    ("张无忌无 7组1号", "m15"),  # name glued to the answer
    ("李秀英 3组99号 无", "m3"),  # the written house belongs to nobody: the unique name stands
    ("301 李娜 2-1-102", "m9"),
])
def test_matches(text: str, key: str) -> None:
    result = match(text)
    assert (result.member_key, result.outcome) == (key, "matched"), result.reason
    assert result.candidates == (key,)
    assert result.reason


@pytest.mark.parametrize("text, candidates", [
    ("王建国 无", ("m1", "m2")),  # same name, no house
    ("王建国 3组9号 无", ("m1", "m2")),  # same name, a house that tells nothing
    ("老周 无", ("m6", "m7")),  # shared nickname
    ("wjh 无", ("m13", "m14")),  # shared initials
    ("刘德 无", ("m4", "m5")),  # typo of two members
    ("刘德化 无", ("m4", "m5")),
    ("李秀瑛 无", ("m3",)),  # a typo without a house is not accepted
    ("李秀瑛 2组8号 无", ("m3", "m4")),  # a typo whose house is another member's
    ("李秀英 2组8号 无", ("m3", "m4")),  # the name of one member, the house of another
    ("杭州宏达 无", ("m11", "m12")),
])
def test_ambiguous(text: str, candidates: tuple[str, ...]) -> None:
    result = match(text)
    assert result.member_key is None
    assert result.outcome == "ambiguous"
    assert result.candidates == candidates
    assert "请组长确认" in result.reason


@pytest.mark.parametrize("text", ["张三 无", "钱师傅 无", "6-6-666 36.5", "9组9号 无", "无", "Jack 无", "王 无"])
def test_unknown(text: str) -> None:
    result = match(text)
    assert (result.member_key, result.candidates, result.outcome) == (None, (), "unknown")
    assert "请组长确认" in result.reason


def test_member_pinyin_and_keys() -> None:
    assert Member("k", "王建国").pinyin == "wangjianguo"
    assert Member("k", "王建国", pinyin="Wang Jian-Guo").pinyin == "wangjianguo"
    assert [Member("k", n).pinyin for n in ("曾凡军", "单玉林", "查建华", "解晓东")] == [
        "zengfanjun", "shanyulin", "zhajianhua", "xiexiaodong"]
    assert match("zfj 无", [Member("q", "曾凡军")]).member_key == "q"
    assert Member("k", "李娜", nicknames=["Lina"]).nicknames == ("Lina",)  # type: ignore[arg-type]
    assert match_entries([], VILLAGE) == []
    (result,) = match_entries([one("李秀英 无")], [])
    assert result.outcome == "unknown"


def test_duplicate_member_keys_count_once() -> None:
    members = [Member("a", "李秀英", "3组2号"), Member("a", "李秀英", "3组2号")]
    assert match("李秀英 无", members).member_key == "a"


def test_every_match_is_among_its_candidates() -> None:
    corpus = load_corpus()
    for chain in corpus["chains"]:
        for result in match_entries(parse_chain(chain["text"]).entries, members_of(chain)):
            if result.member_key is not None:
                assert result.candidates == (result.member_key,)
            json.dumps(result.to_json(), ensure_ascii=False)


def test_the_truck_in_the_car_park() -> None:
    text = "#接龙\n新江村五组 晚间接龙\n\n1. 杨国兴 5组13号 在家2人 停车场内有辆外地小货车，司机一直没下来\n"
    (result,) = match_entries(parse_chain(text).entries, [Member("ev-06", "杨国兴", "5组13号")])
    assert result.member_key == "ev-06"
    assert result.entry.status == "visitor"
    assert result.entry.signals == ("outsider", "vehicle")
    assert result.entry.at_home == 2


# --------------------------------------------------------------------------------------- corpus


def load_corpus() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CORPUS.read_text(encoding="utf-8"))
    return data


def members_of(chain: dict[str, Any]) -> list[Member]:
    return [Member(m["key"], m["name"], m["house"], tuple(m["nicknames"])) for m in chain["members"]]


def outcome(result: Match) -> dict[str, Any]:
    e = result.entry
    return {"member": result.member_key, "ambiguous": result.outcome == "ambiguous", "status": e.status,
            "temperature": e.temperature, "at_home": e.at_home, "household_size": e.household_size,
            "signals": list(e.signals)}


def test_corpus_shape() -> None:
    corpus = load_corpus()
    chains = corpus["chains"]
    assert len(chains) >= 12
    assert sum(len(c["expected"]) for c in chains) >= 300
    for chain in chains:
        keys = {m["key"] for m in chain["members"]}
        assert chain["text"].lstrip().startswith(("#", "＃")) or "#接龙" in chain["text"]
        for exp in chain["expected"]:
            assert exp["member"] is None or exp["member"] in keys
            assert not (exp["ambiguous"] and exp["member"] is not None)
            assert exp["status"] in STATUSES


def test_corpus_accuracy_and_no_wrong_match() -> None:
    total = right = 0
    wrong_matches: list[str] = []
    misses: list[str] = []
    for chain in load_corpus()["chains"]:
        parsed = parse_chain(chain["text"])
        results = match_entries(parsed.entries, members_of(chain))
        by_number: dict[int, Match] = {}
        for result in results:
            by_number.setdefault(result.entry.number, result)
        assert len(results) == len(chain["expected"]), chain["group"]
        for exp in chain["expected"]:
            total += 1
            found = by_number.get(exp["number"])
            if found is None:
                misses.append(f"{chain['group']} #{exp['number']}: missing")
                continue
            if found.member_key is not None and found.member_key != exp["member"]:
                wrong_matches.append(f"{chain['group']} #{exp['number']} {found.entry.raw}: {found.member_key}")
            got = outcome(found)
            want = {k: exp[k] for k in got}
            if got == want:
                right += 1
            else:
                misses.append(f"{chain['group']} #{exp['number']} {found.entry.raw}: {got} != {want}")
    assert wrong_matches == []
    assert right / total >= 0.99, misses
