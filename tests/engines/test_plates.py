"""Mainland vehicle plates (lianfang.engines.plates) and their JavaScript mirror (normalizePlate)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from lianfang.engines.plates import Plate, PlateError, normalize_plate
from tests.engines.test_screening import needs_node, run_js

VALID: list[tuple[str, str, str, str]] = [
    # raw, number, kind, province
    ("浙A12345", "浙A12345", "ordinary", "浙"),
    ("浙A8B2C7", "浙A8B2C7", "ordinary", "浙"),
    ("京QZZ999", "京QZZ999", "ordinary", "京"),
    ("沪AF1234", "沪AF1234", "ordinary", "沪"),  # 7 characters: an ordinary plate whose serial starts with F
    ("浙AD12345", "浙AD12345", "new_energy", "浙"),
    ("浙AF12345", "浙AF12345", "new_energy", "浙"),
    ("沪ADA1234", "沪ADA1234", "new_energy", "沪"),
    ("粤BDF0011", "粤BDF0011", "new_energy", "粤"),
    ("浙A12345D", "浙A12345D", "new_energy", "浙"),
    ("苏E00001F", "苏E00001F", "new_energy", "苏"),
    ("浙A1234挂", "浙A1234挂", "trailer", "浙"),
    ("浙A0123警", "浙A0123警", "police", "浙"),
    ("使014123", "使014123", "embassy", "使"),
    ("沪A0198领", "沪A0198领", "embassy", "沪"),
    ("粤Z1234港", "粤Z1234港", "other", "粤"),
    ("浙A1234学", "浙A1234学", "other", "浙"),
    # full width, lower case, spaces and separators
    ("浙ａ·１２３４５", "浙A12345", "ordinary", "浙"),
    (" 浙 a-d1234 5 ", "浙AD12345", "new_energy", "浙"),
    ("浙A・12345", "浙A12345", "ordinary", "浙"),
    ("浙Ｄ－ｆ１２３４", "浙DF1234", "ordinary", "浙"),
    ("\u3000京n.12345\u3000", "京N12345", "ordinary", "京"),
]

INVALID: list[tuple[Any, str]] = [
    ("浙I12345", "letter_io"),
    ("浙O12345", "letter_io"),
    ("浙A12O45", "letter_io"),
    ("浙A1234", "length"),
    ("浙A1234567", "length"),
    ("ABCDEFG", "province"),
    ("12345AB", "province"),
    ("港A12345", "province"),
    ("台A12345", "chars"),  # not a mainland plate province, nor any plate character
    ("浙A12#45", "chars"),
    ("浙A12345😀", "chars"),
    ("浙112345", "issuer"),
    ("浙挂12345", "issuer"),
    ("沪AF1234A", "format"),  # small new energy: the last 4 must be digits
    ("浙AA12345", "format"),  # 8 characters but no D/F
    ("浙A1234F5", "format"),
    ("浙A12345挂", "format"),
    ("浙A12挂45", "format"),
    ("使01412", "format"),
    ("", "empty"),
    (" · - ", "empty"),
    (None, "type"),
    (12345, "type"),
]


@pytest.mark.parametrize(("raw", "number", "kind", "province"), VALID)
def test_valid_plates(raw: str, number: str, kind: str, province: str) -> None:
    assert normalize_plate(raw) == Plate(number, kind, province)  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "code"), INVALID)
def test_invalid_plates(raw: Any, code: str) -> None:
    with pytest.raises(PlateError) as info:
        normalize_plate(raw)
    assert info.value.code == code
    assert info.value.message


def test_messages_name_what_is_wrong() -> None:
    def message(raw: str) -> str:
        with pytest.raises(PlateError) as info:
            normalize_plate(raw)
        return info.value.message

    assert "第 2 位「I」" in message("浙I12345")
    assert "现为 6 位" in message("浙A1234")
    assert "「A」不是省份简称" in message("ABCDEFG")
    assert "「#」" in message("浙A12#45")
    assert "新能源" in message("沪AF1234A")


def test_display_and_json() -> None:
    assert normalize_plate("浙ad12345").display == "浙A·D12345"
    assert normalize_plate("使014123").display == "使014123"
    assert normalize_plate("浙A12345").to_json() == {"number": "浙A12345", "kind": "ordinary", "province": "浙",
                                                     "display": "浙A·12345"}
    e = pickle.loads(pickle.dumps(PlateError("empty", "请输入车牌号")))
    assert (e.code, e.message) == ("empty", "请输入车牌号")


def python_plate(raw: Any) -> dict[str, Any]:
    try:
        return normalize_plate(raw).to_json()
    except PlateError as e:
        return {"error": e.code, "message": e.message}


@needs_node
def test_python_and_javascript_agree_on_plates(tmp_path: Path) -> None:
    table: list[Any] = [raw for raw, *_ in VALID] + [raw for raw, _ in INVALID]
    assert len(table) >= 40
    got = run_js(tmp_path, [{"fn": "normalizePlate", "args": [raw]} for raw in table])
    for raw, result in zip(table, got, strict=True):
        assert result == python_plate(raw), raw
