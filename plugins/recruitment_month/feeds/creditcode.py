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
    code = code.upper()
    if any(c not in _VALUE for c in code):
        return False
    if check_char(code[:17]) != code[17]:
        return False
    return not check_org or org_check_char(code[8:16]) == code[16]


def make(authority_type: str, division: str, org_body: str) -> str:
    """A valid credit code from the 2-character authority and type (e.g. ``91``), the 6-digit
    administrative division and the 8-character organisation code body."""
    first17 = authority_type + division + org_body + org_check_char(org_body)
    return first17 + check_char(first17)
