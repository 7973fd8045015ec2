"""Tests for lianfang.engines.documents (pure Python, no Django needed)."""

from __future__ import annotations

import datetime
import pickle

import pytest
from stdnum.cn import ric

from lianfang.engines.documents import (
    DOCUMENT_TYPE_LABELS,
    DocumentError,
    DocumentType,
    ResidentId,
    looks_like_resident_id_suffix,
    mask_document,
    mask_mobile,
    normalize_document,
    normalize_mobile,
    parse_doc_type,
    parse_resident_id,
)

TODAY = datetime.date(2024, 6, 1)


def with_check(first17: str) -> str:
    """Append the correct GB 11643 check digit to 17 digits."""
    assert len(first17) == 17
    return first17 + ric.calc_check_digit(first17 + "0")


def error_of(func: object, *args: object, **kwargs: object) -> DocumentError:
    assert callable(func)
    with pytest.raises(DocumentError) as info:
        func(*args, **kwargs)
    return info.value


# ---------------------------------------------------------------- resident ID


class TestResidentIdValid:
    def test_published_example_with_x_check_digit(self) -> None:
        result = parse_resident_id("11010519491231002X", today=TODAY)
        assert result == ResidentId(
            number="11010519491231002X",
            region_code="110105",
            birth_date=datetime.date(1949, 12, 31),
            sex="F",
        )

    def test_lowercase_x_is_uppercased(self) -> None:
        assert parse_resident_id("11010519491231002x", today=TODAY).number == (
            "11010519491231002X"
        )

    def test_stdnum_doc_example(self) -> None:
        result = parse_resident_id("360426199101010071", today=TODAY)
        assert result.birth_date == datetime.date(1991, 1, 1)
        assert result.sex == "M"  # 17th digit 7 is odd

    def test_hardcoded_check_digits(self) -> None:
        # Check digits computed independently of the implementation under test.
        assert parse_resident_id("44030519850615002X", today=TODAY).sex == "F"
        assert parse_resident_id("330109199001011239", today=TODAY).sex == "M"

    def test_330109_born_before_district_created_is_accepted(self) -> None:
        # 萧山区 code 330109 dates from 2001; stdnum's ric.validate rejects it
        # for a 1990 birth, but IDs keep the code of (re)registration.
        number = "330109199001011239"
        assert not ric.is_valid(number)
        result = parse_resident_id(number, today=TODAY)
        assert result.region_code == "330109"
        assert result.birth_date == datetime.date(1990, 1, 1)

    @pytest.mark.parametrize("region", ["330113", "330114"])
    def test_hangzhou_2021_districts_from_supplement(self, region: str) -> None:
        number = with_check(region + "20000101123")
        assert parse_resident_id(number, today=TODAY).region_code == region

    def test_330114_hardcoded(self) -> None:
        assert parse_resident_id("330114200001011235", today=TODAY).number == (
            "330114200001011235"
        )

    @pytest.mark.parametrize("region", ["810000", "820000", "830000"])
    def test_residence_permit_codes(self, region: str) -> None:
        number = with_check(region + "19800101123")
        assert parse_resident_id(number, today=TODAY).region_code == region

    def test_full_width_and_spaces(self) -> None:
        raw = "　１１０１０５ １９４９１２３１ ００２ｘ "
        assert parse_resident_id(raw, today=TODAY).number == "11010519491231002X"

    def test_invisible_characters_are_dropped(self) -> None:
        raw = "\u200b11010519491231002X\ufeff"
        assert parse_resident_id(raw, today=TODAY).number == "11010519491231002X"

    def test_female_even_sequence_digit(self) -> None:
        number = with_check("11010519900101124")
        assert parse_resident_id(number, today=TODAY).sex == "F"

    def test_birth_date_today_is_allowed(self) -> None:
        number = with_check("110105" + "20240601" + "123")
        assert parse_resident_id(number, today=TODAY).birth_date == TODAY

    def test_leap_day(self) -> None:
        number = with_check("110105" + "20000229" + "123")
        assert parse_resident_id(number, today=TODAY).birth_date == (
            datetime.date(2000, 2, 29)
        )

    def test_default_today(self) -> None:
        assert parse_resident_id("11010519491231002X").number == "11010519491231002X"


class TestResidentIdInvalid:
    def test_wrong_check_digit_reports_expected_digit(self) -> None:
        err = error_of(parse_resident_id, "110105194912310021", today=TODAY)
        assert err.code == "id_checksum"
        assert "最后一位应为 X" in err.message
        assert str(err) == err.message

    def test_wrong_check_digit_expected_numeric(self) -> None:
        err = error_of(parse_resident_id, "330109199001011230", today=TODAY)
        assert err.code == "id_checksum"
        assert "最后一位应为 9" in err.message

    def test_single_digit_typo_caught_by_checksum(self) -> None:
        # 8th sequence digit changed 2 -> 3: still a valid date and region.
        err = error_of(parse_resident_id, "11010519491231003X", today=TODAY)
        assert err.code == "id_checksum"

    def test_february_30(self) -> None:
        err = error_of(parse_resident_id, with_check("11010519900230123"), today=TODAY)
        assert err.code == "id_birth_date"
        assert "19900230" in err.message

    def test_month_13(self) -> None:
        err = error_of(parse_resident_id, with_check("11010519901301123"), today=TODAY)
        assert err.code == "id_birth_date"

    def test_non_leap_feb_29(self) -> None:
        err = error_of(parse_resident_id, with_check("11010519010229123"), today=TODAY)
        assert err.code == "id_birth_date"

    def test_future_birth_date(self) -> None:
        err = error_of(parse_resident_id, with_check("11010520240602123"), today=TODAY)
        assert err.code == "id_birth_date"
        assert "晚于今天" in err.message

    def test_before_1890(self) -> None:
        err = error_of(parse_resident_id, with_check("11010518891231123"), today=TODAY)
        assert err.code == "id_birth_date"
        assert "1890" in err.message

    def test_unknown_province(self) -> None:
        err = error_of(parse_resident_id, with_check("99999919900101123"), today=TODAY)
        assert err.code == "id_region"
        assert "99" in err.message

    def test_unknown_county_in_valid_province(self) -> None:
        err = error_of(parse_resident_id, with_check("33019919900101123"), today=TODAY)
        assert err.code == "id_region"
        assert "330199" in err.message

    def test_province_level_code_rejected(self) -> None:
        err = error_of(parse_resident_id, with_check("33000019900101123"), today=TODAY)
        assert err.code == "id_region"

    def test_fifteen_digit_old_id(self) -> None:
        err = error_of(parse_resident_id, "110105491231002", today=TODAY)
        assert err.code == "id_length"
        assert "18位" in err.message
        assert "15位" in err.message

    @pytest.mark.parametrize(
        "raw", ["", "   ", "1101051949123100", "11010519491231002X1"]
    )
    def test_wrong_length(self, raw: str) -> None:
        assert error_of(parse_resident_id, raw, today=TODAY).code == "id_length"

    def test_letter_o_instead_of_zero(self) -> None:
        err = error_of(parse_resident_id, "11O10519491231002X", today=TODAY)
        assert err.code == "id_format"
        assert "第3位" in err.message

    def test_x_not_in_last_position(self) -> None:
        err = error_of(parse_resident_id, "1101051949123100X2", today=TODAY)
        assert err.code == "id_format"

    def test_bad_last_char(self) -> None:
        err = error_of(parse_resident_id, "11010519491231002Y", today=TODAY)
        assert err.code == "id_format"

    def test_non_ascii_digits_rejected(self) -> None:
        # Arabic-Indic digits match \d / str.isdigit but are not ID digits.
        raw = "\u0661" + "1010519491231002X"
        assert error_of(parse_resident_id, raw, today=TODAY).code == "id_format"


# ----------------------------------------------------------- other documents


class TestPassport:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("E12345678", "E12345678"),
            ("G12345678", "G12345678"),
            ("ea1234567", "EA1234567"),
            ("EB 123 4567", "EB1234567"),
            ("Ｅ１２３４５６７８", "E12345678"),
            ("123456789", "123456789"),  # e.g. US
            ("AB1234567", "AB1234567"),
            ("x1234", "X1234"),
            ("A" * 16 + "1", "A" * 16 + "1"),
        ],
    )
    def test_valid(self, raw: str, expected: str) -> None:
        assert normalize_document(DocumentType.PASSPORT, raw) == expected
        assert normalize_document("passport", raw) == expected

    @pytest.mark.parametrize(
        "raw", ["", "E123", "E1234567-8", "护照E12345678", "A" * 17 + "1", "ABCDEFG"]
    )
    def test_invalid(self, raw: str) -> None:
        err = error_of(normalize_document, DocumentType.PASSPORT, raw)
        assert err.code == "passport_format"
        assert err.message

    def test_message_points_at_bad_char(self) -> None:
        err = error_of(normalize_document, "护照", "E1234567-8")
        assert "第9位" in err.message


class TestHkMacauPermit:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("H12345678", "H12345678"),
            ("m12345678", "M12345678"),
            ("H1234567890", "H1234567890"),
            ("Ｈ１２３４ ５６７８", "H12345678"),
        ],
    )
    def test_valid(self, raw: str, expected: str) -> None:
        assert normalize_document(DocumentType.HK_MACAU_PERMIT, raw) == expected

    @pytest.mark.parametrize(
        "raw", ["", "H1234567", "H123456789", "A12345678", "H12345678901", "HK12345678"]
    )
    def test_invalid(self, raw: str) -> None:
        err = error_of(normalize_document, DocumentType.HK_MACAU_PERMIT, raw)
        assert err.code == "hk_macau_format"

    def test_missing_prefix_letter_hint(self) -> None:
        err = error_of(normalize_document, DocumentType.HK_MACAU_PERMIT, "12345678")
        assert "加上H" in err.message
        assert "M（澳门" in err.message

    def test_mainland_travel_permit_hint(self) -> None:
        err = error_of(normalize_document, DocumentType.HK_MACAU_PERMIT, "C12345678")
        assert "C开头" in err.message


class TestTaiwanPermit:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("12345678", "12345678"),
            ("1234567890", "1234567890"),
            ("12345678(B)", "12345678B"),
            ("12345678（b）", "12345678B"),
            ("12345678(AB)", "12345678AB"),
            ("12345678B", "12345678B"),
            (" １２３４５６７８ ", "12345678"),
        ],
    )
    def test_valid(self, raw: str, expected: str) -> None:
        assert normalize_document(DocumentType.TAIWAN_PERMIT, raw) == expected

    @pytest.mark.parametrize(
        "raw",
        [
            "",
            "1234567",
            "123456789",
            "12345678(ABC)",
            "12345678(B",
            "T12345678",
            "123456789012",
        ],
    )
    def test_invalid(self, raw: str) -> None:
        err = error_of(normalize_document, DocumentType.TAIWAN_PERMIT, raw)
        assert err.code == "taiwan_format"

    def test_taiwan_national_id_hint(self) -> None:
        err = error_of(normalize_document, DocumentType.TAIWAN_PERMIT, "A123456789")
        assert "台湾地区身份证" in err.message


class TestNormalizeDocumentDispatch:
    def test_resident_id_via_label(self) -> None:
        assert (
            normalize_document("身份证", "11010519491231002x") == "11010519491231002X"
        )

    def test_resident_id_today_is_passed_through(self) -> None:
        number = with_check("11010520240602123")
        early = datetime.date(2024, 6, 1)
        err = error_of(
            normalize_document, DocumentType.RESIDENT_ID, number, today=early
        )
        assert err.code == "id_birth_date"
        later = datetime.date(2024, 6, 2)
        assert (
            normalize_document(DocumentType.RESIDENT_ID, number, today=later) == number
        )

    def test_unknown_doc_type(self) -> None:
        err = error_of(normalize_document, "驾驶证", "123")
        assert err.code == "doc_type"


# ------------------------------------------------------------- doc type parse


class TestParseDocType:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("resident_id", DocumentType.RESIDENT_ID),
            (" RESIDENT_ID ", DocumentType.RESIDENT_ID),
            ("resident-id", DocumentType.RESIDENT_ID),
            ("居民身份证", DocumentType.RESIDENT_ID),
            ("身份证", DocumentType.RESIDENT_ID),
            ("港澳台居民居住证", DocumentType.RESIDENT_ID),
            ("passport", DocumentType.PASSPORT),
            ("护照", DocumentType.PASSPORT),
            ("hk_macau_permit", DocumentType.HK_MACAU_PERMIT),
            ("港澳居民来往内地通行证", DocumentType.HK_MACAU_PERMIT),
            ("港澳通行证", DocumentType.HK_MACAU_PERMIT),
            ("回乡证", DocumentType.HK_MACAU_PERMIT),
            ("taiwan_permit", DocumentType.TAIWAN_PERMIT),
            ("台湾居民来往大陆通行证", DocumentType.TAIWAN_PERMIT),
            ("台胞证", DocumentType.TAIWAN_PERMIT),
            (DocumentType.PASSPORT, DocumentType.PASSPORT),
        ],
    )
    def test_known(self, value: str, expected: DocumentType) -> None:
        assert parse_doc_type(value) is expected

    def test_all_labels_round_trip(self) -> None:
        assert set(DOCUMENT_TYPE_LABELS) == set(DocumentType)
        for doc_type, label in DOCUMENT_TYPE_LABELS.items():
            assert parse_doc_type(label) is doc_type
            assert parse_doc_type(doc_type.value) is doc_type

    @pytest.mark.parametrize("value", ["", "驾驶证", "居住证", "unknown"])
    def test_unknown(self, value: str) -> None:
        err = error_of(parse_doc_type, value)
        assert err.code == "doc_type"
        assert "居民身份证" in err.message


# ---------------------------------------------------------------- mobile


class TestMobile:
    @pytest.mark.parametrize(
        "raw",
        [
            "13812345678",
            "138 1234 5678",
            "138-1234-5678",
            "(138)12345678",
            "+86 138 1234 5678",
            "+86-13812345678",
            "(+86)13812345678",
            "8613812345678",
            "008613812345678",
            "１３８１２３４５６７８",
            "＋８６　１３８－１２３４－５６７８",
        ],
    )
    def test_valid_variants(self, raw: str) -> None:
        assert normalize_mobile(raw) == "13812345678"

    @pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
    def test_valid_prefixes(self, prefix: str) -> None:
        number = prefix + "012345678"
        assert normalize_mobile(number) == number

    @pytest.mark.parametrize(
        "raw",
        [
            "",
            "1381234567",  # 10 digits
            "138123456789",  # 12 digits
            "12812345678",  # second digit 2
            "23812345678",  # does not start with 1
            "057188888888",  # landline
            "+85291234567",  # Hong Kong
            "138a2345678",
            "0013812345678",
        ],
    )
    def test_invalid(self, raw: str) -> None:
        err = error_of(normalize_mobile, raw)
        assert err.code == "phone_format"
        assert err.message

    def test_landline_message(self) -> None:
        assert "固定电话" in error_of(normalize_mobile, "0571-88888888").message

    def test_foreign_international_prefix(self) -> None:
        err = error_of(normalize_mobile, "0085291234567")
        assert "大陆" in err.message

    def test_length_message(self) -> None:
        assert "10位" in error_of(normalize_mobile, "1381234567").message


# ---------------------------------------------------------------- masking


class TestMasking:
    def test_resident_id(self) -> None:
        assert mask_document(DocumentType.RESIDENT_ID, "330114200001011234") == (
            "330114********1234"
        )
        assert mask_document("身份证", "11010519491231002X") == "110105********002X"

    @pytest.mark.parametrize(
        ("doc_type", "number", "expected"),
        [
            (DocumentType.PASSPORT, "E12345678", "E1*****78"),
            (DocumentType.HK_MACAU_PERMIT, "H12345678", "H1*****78"),
            (DocumentType.TAIWAN_PERMIT, "12345678", "12****78"),
            (DocumentType.PASSPORT, "AB1234", "AB**34"),
            (DocumentType.PASSPORT, "X1234", "X1**4"),
            (DocumentType.PASSPORT, "ABCD", "A**D"),
            (DocumentType.PASSPORT, "AB", "**"),
            (DocumentType.PASSPORT, "", ""),
        ],
    )
    def test_other_documents(
        self, doc_type: DocumentType, number: str, expected: str
    ) -> None:
        assert mask_document(doc_type, number) == expected
        assert mask_document(doc_type, number).count("*") >= (2 if number else 0)

    def test_malformed_resident_id_falls_back_to_generic(self) -> None:
        assert mask_document(DocumentType.RESIDENT_ID, "110105491231002") == (
            "11***********02"
        )

    def test_unknown_doc_type_raises(self) -> None:
        assert error_of(mask_document, "nope", "123456").code == "doc_type"

    def test_mobile(self) -> None:
        assert mask_mobile("13812341234") == "138****1234"
        assert mask_mobile("+86 138-1234-1234") == "138****1234"

    def test_mobile_invalid_is_masked_not_raised(self) -> None:
        assert mask_mobile("0571888888") == "05******88"


# ---------------------------------------------------------------- search


class TestLooksLikeResidentIdSuffix:
    @pytest.mark.parametrize(
        "q", ["1", "002X", "002x", "1234", " 1234 ", "11010519491231002X", "1" * 18]
    )
    def test_true(self, q: str) -> None:
        assert looks_like_resident_id_suffix(q)

    @pytest.mark.parametrize(
        "q",
        ["", "X", "张三", "12a4", "X123", "1" * 19, "1" * 18 + "X", "１２３", "12 34"],
    )
    def test_false(self, q: str) -> None:
        assert not looks_like_resident_id_suffix(q)


# ---------------------------------------------------------------- misc


def test_error_is_value_error_and_picklable() -> None:
    err = error_of(parse_resident_id, "110105194912310021", today=TODAY)
    assert isinstance(err, ValueError)
    copy = pickle.loads(pickle.dumps(err))
    assert isinstance(copy, DocumentError)
    assert (copy.code, copy.message) == (err.code, err.message)


def test_resident_id_is_frozen() -> None:
    result = parse_resident_id("11010519491231002X", today=TODAY)
    with pytest.raises(AttributeError):
        result.number = "x"  # type: ignore[misc]


def test_document_type_is_str_enum() -> None:
    assert isinstance(DocumentType.RESIDENT_ID, str)
    assert DocumentType.RESIDENT_ID.value == "resident_id"
    assert DocumentType("passport") is DocumentType.PASSPORT
