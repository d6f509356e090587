"""Who a posting is: its id, its employer key, its cluster and the digest of its content (docs/feeds.md).

One parser reads a posting's identifier everywhere: the extraction's de-duplication keys items by
:func:`item_posting_id`, and the normaliser's ``posting_id`` is the same function's answer, so a posting
dropped as a duplicate at extraction is exactly one that the load would have merged into the same row.

An identifier may be written in every shape schema.org's ``JobPosting.identifier`` allows and platforms
use: text (or a URL), a number, a ``PropertyValue`` whose ``value`` (or JSON-LD ``@value``) holds it, a
``PropertyValue`` with only ``propertyID`` (and a ``name``), or a list of any of those (the first usable
one counts). A flat feed names its id field in the platform's ``field_map``; the canonical name
``posting_id`` is read when that field is missing. Control characters are removed from the id, as from
every single-line text field of a posting.

Pure module: no Airflow import.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING

import msgspec
from xxhash import xxh3_128_hexdigest

if TYPE_CHECKING:
    from recruitment_month.config import Platform

# C0 control characters except tab, line feed and carriage return; DEL; C1 (as text.strip_control).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


# --------------------------------------------------------------------------------------------- posting id


def identifier(value: object) -> str | None:
    """An identifier written as text, a number or a PropertyValue (or a list of those), as text; None
    when there is none."""
    kind = value.__class__
    if kind is str:  # the usual two shapes first: text, and a PropertyValue with text
        return value.strip() or None
    if kind is dict:
        inner = value.get("value")
        if inner.__class__ is str:
            return inner.strip() or None
    return _identifier_general(value)


def _identifier_general(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, dict):
        return identifier(_property_value(value))
    if isinstance(value, list | tuple):
        return next(filter(None, map(identifier, value)), None)
    return None


def _property_value(value: dict) -> object:
    """What a PropertyValue identifies by: ``value``, else ``@value``, else ``propertyID``."""
    inner = value.get("value")
    if inner is None:
        inner = value.get("@value", value.get("propertyID"))
    return inner


def without_control(value: str | None, *, single_line: bool = True) -> str | None:
    """``value`` without control characters (tab and line breaks are spacing, not controls); a
    single-line field also loses the runs of spaces the removal leaves. Text without any is returned as
    it is."""
    if value is None or value.isprintable() or _CONTROL_RE.search(value) is None:
        return value
    cleaned = _CONTROL_RE.sub("", value)
    if single_line:
        cleaned = " ".join(cleaned.split())
    return cleaned or None


def posting_id(value: object) -> str | None:
    """The ``posting_id`` an identifier value gives a posting."""
    found = identifier(value)
    return found if found is None or found.isprintable() else without_control(found)


def id_keys(platform: Platform) -> tuple[str, ...]:
    """The keys that may hold a platform's item ids, first choice first: ``identifier`` for JSON-LD; the
    flat shape's mapped field, then the canonical name (as the normaliser reads a renamed field)."""
    if platform.adapter == "flat":
        mapped = (platform.field_map or {}).get("posting_id", "posting_id")
        return tuple(dict.fromkeys((mapped, "posting_id")))
    return ("identifier",)


def modified_keys(platform: Platform) -> tuple[str, ...]:
    """The keys that may hold a platform's item modification times, first choice first."""
    if platform.adapter == "flat":
        mapped = (platform.field_map or {}).get("modified_at", "modified_at")
        return tuple(dict.fromkeys((mapped, "modified_at")))
    return ("dateModified",)


def item_posting_id(item: object, keys: tuple[str, ...]) -> str | None:
    """The ``posting_id`` of a feed item whose id may sit under ``keys`` (see :func:`id_keys`): the
    first key, or when it is missing or null, the next ones."""
    if item.__class__ is not dict and not isinstance(item, dict):
        return None
    value = item.get(keys[0])
    if value.__class__ is str and value.isprintable():  # the usual case, a few times faster
        return value.strip() or None
    return key_of(item, keys, value)


def key_of(item: dict, keys: tuple[str, ...], value: object) -> str | None:
    """:func:`item_posting_id` of ``item`` whose first key holds ``value`` (already looked up)."""
    found = posting_id(value)
    if found is None and value is None:
        for other in keys[1:]:
            found = posting_id(item.get(other))
            if found:
                break
    return found


# --------------------------------------------------------------------------------------------- employer, cluster

_EMPLOYER_NOISE = re.compile(r"(有限责任公司|股份有限公司|有限公司|集团|公司|分公司|[（(][^）)]*[）)]|\s)")
_CITY_SUFFIX = re.compile(r"(市|地区|自治州|盟|区|县)$")


@lru_cache(maxsize=65536)
def employer_key(name: str) -> str:
    """An employer name without legal-form suffixes, branch notes and spaces (for matching reposts)."""
    return _EMPLOYER_NOISE.sub("", unicodedata.normalize("NFKC", name or "")).lower()


@lru_cache(maxsize=4096)
def city_key(city: str | None) -> str:
    """A city name without its administrative suffix (市, 区, 县 ...)."""
    return _CITY_SUFFIX.sub("", unicodedata.normalize("NFKC", city or "").strip())


def cluster_id(posting: dict) -> str:
    """The same job on several platforms gets the same id: the employer (its credit code, or else its
    name without legal-form noise), the normalised title and the city (or else the province)."""
    employer = posting.get("employer_credit_code") or "n:" + employer_key(posting.get("employer_name") or "")
    place = city_key(posting.get("city")) or (posting.get("province_code") or "")
    key = f"{employer}|{posting.get('title_key') or ''}|{place}"
    return hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


# --------------------------------------------------------------------------------------------- content

# The columns whose content makes a version: everything but the keys and the modification time.
CONTENT_COLUMNS = (
    "title",
    "employer_name",
    "employer_credit_code",
    "province_code",
    "city",
    "industry_category",
    "education_level",
    "employment_type",
    "salary_min",
    "salary_max",
    "openings",
    "date_posted",
    "valid_through",
    "url",
    "description",
)
_FLAGS = ("employer_credit_code_raw", "salary_flagged", "problems")
_content_values = itemgetter(*CONTENT_COLUMNS)
_flag_values = itemgetter(*_FLAGS)
_encode_json = msgspec.json.Encoder().encode


def content_hash(posting: dict) -> str:
    """A digest of what makes a version (the content columns as JSON; not the keys, not the modification
    time). XXH3-128: a fingerprint to compare versions, not a defence against a forger, and a tenth of
    the cost of a cryptographic hash over the long descriptions. What was set aside or flagged counts
    only when there is any (then ``problems`` is set), so a clean posting's digest is as it always was."""
    values = _content_values(posting)
    if posting.get("problems") is not None:
        values += _flag_values(posting)
    return xxh3_128_hexdigest(_encode_json(values))
