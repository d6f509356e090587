"""Unified social credit codes (统一社会信用代码, GB 32100-2015) and organisation codes (GB 11714-1997).

A credit code has 18 characters: registration authority (1), organisation type (1), administrative
division (6), organisation code (8 + its GB 11714 check character) and the GB 32100 check character.

Pure module.
"""

from __future__ import annotations

from operator import mul

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters a credit code may use (no I, O, S, V, Z)."""

_VALUE = {c: n for n, c in enumerate(CHARSET)}
_ORG_VALUE = {c: n for n, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def check_char(first17: str) -> str:
    """The GB 32100 check character (18th) for the first 17 characters of a credit code."""
    if len(first17) != 17:
        raise ValueError(f"need 17 characters, got {len(first17)}")
    try:
        total = sum(map(mul, map(_VALUE.__getitem__, first17.upper()), _WEIGHTS))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not allowed in a credit code") from None
    return CHARSET[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str:
    """The GB 11714 check character (9th) for the first 8 characters of an organisation code."""
    if len(first8) != 8:
        raise ValueError(f"need 8 characters, got {len(first8)}")
    try:
        total = sum(map(mul, map(_ORG_VALUE.__getitem__, first8.upper()), _ORG_WEIGHTS))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not allowed in an organisation code") from None
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def is_valid(code: str | None, *, check_org: bool = True) -> bool:
    """True when ``code`` is 18 allowed characters with a correct GB 32100 check character and, unless
    ``check_org`` is false, a correct GB 11714 check character of the embedded organisation code."""
    if not isinstance(code, str) or len(code) != 18:
        return False
    if code.isascii():
        return _is_valid_ascii(code, check_org)
    # Rare: str.upper() of some non-ASCII letters is ASCII ("ﬀ" is "FF"), so the general rules apply.
    code = code.upper()
    if any(c not in _VALUE for c in code):
        return False
    if check_char(code[:17]) != code[17]:
        return False
    return not check_org or org_check_char(code[8:16]) == code[16]


# The same checks for an ASCII code, without a Python-level loop (a pipeline checks a million codes).
#
# GB 32100 weighs character i (from 0) by 3**i mod 31. As 34 ≡ 3 (mod 31), the 17 values read as one
# base-34 number, first character as lowest digit, are congruent to the weighted sum: int(..., 34) sums
# them in C. bytes.translate writes each character's value as a base-34 digit (lower case as upper case)
# and "!" for a character outside the set.
#
# GB 11714 weighs the 8 characters by 2**(8 - i) mod 11 (3, 7, 9, 10, 5, 8, 4, 2). There a character's
# value is its value as a base-36 digit (0-9, A=10 … Y=34; Z=35 is not in the set), and 35 ≡ 2 (mod 11):
# the weighted sum is congruent to twice the 8 characters read as a base-35 number.
_BASE34 = b"0123456789abcdefghijklmnopqrstuvwx"
_NOT_IN_SET = ord("!")  # an int: "in" on bytes is quicker with an int than with a bytes needle
_BASE34_OF_CHAR = bytes(
    _BASE34[_VALUE[chr(i).upper()]] if chr(i).upper() in _VALUE else _NOT_IN_SET for i in range(256)
)
_BASE34_OF_ORG_CHECK = tuple(  # 11 - sum % 11 → the base-34 digit of that check character
    _BASE34[_VALUE["X" if check == 10 else "0" if check == 11 else str(check)]] for check in range(12)
)


def _is_valid_ascii(code: str, check_org: bool) -> bool:
    digits = code.encode("ascii").translate(_BASE34_OF_CHAR)
    if _NOT_IN_SET in digits:
        return False
    total = int(digits[16::-1], 34)  # ≡ sum(value * weight) (mod 31), see above
    if _BASE34[(31 - total % 31) % 31] != digits[17]:
        return False
    if not check_org:
        return True
    org_total = 2 * int(code[8:16], 35)  # ≡ sum(value * weight) (mod 11), see above
    return _BASE34_OF_ORG_CHECK[11 - org_total % 11] == digits[16]


def make(authority_type: str, division: str, org_body: str) -> str:
    """A valid credit code from the 2-character authority and type (e.g. ``91``), the 6-digit
    administrative division and the 8-character organisation code body."""
    first17 = authority_type + division + org_body + org_check_char(org_body)
    return first17 + check_char(first17)
