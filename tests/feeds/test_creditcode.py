import pytest

from recruitment_month.feeds import creditcode

REAL_CODES = [
    "9144030071526726XG",  # org code check character X
    "914403001922038216",
    "91350100M000100Y43",
    "91110108551385082Q",
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    assert creditcode.is_valid(code)
    assert creditcode.check_char(code[:17]) == code[17]
    assert creditcode.org_check_char(code[8:16]) == code[16]


def test_lower_case_is_accepted():
    assert creditcode.is_valid(REAL_CODES[2].lower())


@pytest.mark.parametrize(
    "code",
    [
        "9144030071526726XH",  # wrong GB 32100 check character
        "914403007152672",  # too short
        "9144030071526726XGA",  # too long
        "9144030071526726IG",  # I is not allowed
        None,
        "",
    ],
)
def test_invalid_codes(code):
    assert not creditcode.is_valid(code)


def test_org_check_is_verified_separately():
    # a wrong organisation check character, with the 18th character recomputed to match
    first17 = "91440300715267260"
    code = first17 + creditcode.check_char(first17)
    assert creditcode.is_valid(code, check_org=False)
    assert not creditcode.is_valid(code)


def test_check_char_rules():
    # sum % 31 == 0 gives check 31, written as 0
    assert creditcode.check_char("0" * 17) == "0"
    # GB 11714: 10 is written X, 11 is written 0
    assert creditcode.org_check_char("00000000") == "0"
    assert creditcode.org_check_char("71526726") == "X"
    with pytest.raises(ValueError, match="17 characters"):
        creditcode.check_char("123")
    with pytest.raises(ValueError, match="not allowed"):
        creditcode.check_char("9144030071526726O")


def test_make_builds_valid_codes():
    code = creditcode.make("91", "330106", "MA2CDE3F")
    assert len(code) == 18
    assert code.startswith("91330106MA2CDE3F")
    assert creditcode.is_valid(code)
