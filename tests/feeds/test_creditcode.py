import random

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


def _reference_is_valid(code: str, check_org: bool = True) -> bool:
    """The rules as written in the standards: weighted sums, character by character."""
    if len(code) != 18:
        return False
    code = code.upper()
    if any(c not in creditcode.CHARSET for c in code):
        return False
    total = sum(creditcode.CHARSET.index(c) * 3**i for i, c in enumerate(code[:17]))
    if creditcode.CHARSET[(31 - total % 31) % 31] != code[17]:
        return False
    if not check_org:
        return True
    org_total = sum(int(c, 36) * w for c, w in zip(code[8:16], (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - org_total % 11
    return code[16] == ("X" if check == 10 else "0" if check == 11 else str(check))


def test_is_valid_agrees_with_the_rules_as_written():
    # is_valid reads ASCII codes as base-34 and base-35 numbers (see creditcode); it must agree with the
    # weighted sums everywhere: valid codes, one character changed, lower case, characters outside the set
    rng = random.Random(20240520)
    others = "IOSVZiosvz -_+!ÿ"
    checked = valid = 0
    for _ in range(20_000):
        code = creditcode.make(
            rng.choice(["91", "92", "11", "Y1", "5A"]),
            "".join(rng.choices("0123456789", k=6)),
            "".join(rng.choices(creditcode.CHARSET, k=8)),
        )
        if rng.random() < 0.6:
            i = rng.randrange(18)
            code = (
                code[:i]
                + rng.choice(creditcode.CHARSET + creditcode.CHARSET.lower() + others)
                + code[i + 1 :]
            )
        if rng.random() < 0.2:
            code = code.lower()
        for check_org in (True, False):
            expected = _reference_is_valid(code, check_org)
            assert creditcode.is_valid(code, check_org=check_org) is expected, (code, check_org)
            checked += 1
            valid += expected
    assert 0 < valid < checked  # both answers were met


@pytest.mark.parametrize(
    "code",
    [
        "ﬀ" + "0" * 17,  # upper case of the ligature is "FF": the general rules apply, as before
        "９１３５０１００Ｍ０００１００Ｙ４３",  # full-width digits and capitals are not in the set
        "91350100M000100Y4" + "\u0131",  # dotless i
    ],
)
def test_non_ascii_codes_follow_the_general_rules(code):
    assert creditcode.is_valid(code) is False
