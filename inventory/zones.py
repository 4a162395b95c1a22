"""Country -> shipping region mapping and warehouse zone keys.

Pure Python, no Django imports, so it can be used from anywhere (models,
services, management commands, tests without a database).

Zone keys
---------
A warehouse zone entry is one of three kinds of key, all upper-case:

* a country key: an ISO 3166-1 alpha-2 code such as ``"AU"`` or ``"NA"``
  (Namibia). ``"XK"`` (Kosovo) is accepted too: it is not assigned by ISO but
  is used by Shopify and most carriers;
* a region key: ``"R:"`` followed by a region code, e.g. ``"R:OC"``;
* the wildcard ``"*"``: rest of the world.

Region keys carry the ``"R:"`` prefix because the bare two-letter region codes
are also country codes meaning something else: ``AS`` is American Samoa,
``NA`` Namibia, ``SA`` Saudi Arabia, ``ME`` Montenegro, ``AF`` Afghanistan.
With the prefix a key can never be read both ways, and a bare ``"NA"`` is
always Namibia, never North America.

Regions
-------
``R:OC`` Oceania, ``R:AS`` Asia, ``R:EU`` Europe, ``R:AF`` Africa,
``R:ME`` Middle East, ``R:NA`` North America (incl. Central America and the
Caribbean), ``R:SA`` South America, ``R:AN`` Antarctica.

Judgement calls: RU, the Caucasus (AM, AZ, GE) and CY are in Europe; TR and
the Levant/Gulf states are in the Middle East; EG and the rest of North Africa
are in Africa; the Australian Indian Ocean territories (CX, CC) are in
Oceania; British Indian Ocean Territory (IO) is in Africa, as in the UN M49
scheme; Greenland (GL) is in North America.
"""

from __future__ import annotations

REGION_PREFIX = "R:"
WILDCARD = "*"

REGIONS: dict[str, str] = {
    "R:OC": "Oceania",
    "R:AS": "Asia",
    "R:EU": "Europe",
    "R:AF": "Africa",
    "R:ME": "Middle East",
    "R:NA": "North America",
    "R:SA": "South America",
    "R:AN": "Antarctica",
}

_REGION_MEMBERS: dict[str, str] = {
    "R:OC": ("AS AU CC CK CX FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS"),
    "R:AS": ("AF BD BN BT CN HK ID IN JP KG KH KP KR KZ LA LK MM MN MO MV MY NP PH PK SG TH TJ TL TM TW UZ VN"),
    "R:EU": (
        "AD AL AM AT AX AZ BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GE GG"
        " GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO"
        " RS RU SE SI SJ SK SM UA VA XK"
    ),
    "R:AF": (
        "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW"
        " IO KE KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN"
        " SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW"
    ),
    "R:ME": "AE BH IL IQ IR JO KW LB OM PS QA SA SY TR YE",
    "R:NA": (
        "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN"
        " KY LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG VI"
    ),
    "R:SA": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
    "R:AN": "AQ BV GS HM TF",
}


def _build_country_regions() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for region, members in _REGION_MEMBERS.items():
        for code in members.split():
            if code in mapping:  # pragma: no cover - guards the table above
                raise RuntimeError(f"{code} listed in {mapping[code]} and {region}")
            mapping[code] = region
    return dict(sorted(mapping.items()))


#: ISO 3166-1 alpha-2 country code (plus XK) -> region key.
COUNTRY_REGIONS: dict[str, str] = _build_country_regions()


def _normalise(code: object) -> str:
    """Upper-case, stripped code; "" for non-strings (never a known code)."""
    if not isinstance(code, str):
        return ""
    return code.strip().upper()


def is_known_country(code: str) -> bool:
    """True if ``code`` (case-insensitive) is a country code in the mapping."""
    return _normalise(code) in COUNTRY_REGIONS


def region_for(country_code: str) -> str | None:
    """Region of an ISO alpha-2 country code (case-insensitive), None if unknown.

    Returns a region key such as ``"R:OC"``.
    """
    return COUNTRY_REGIONS.get(_normalise(country_code))


def zones_for(country_code: str) -> tuple[str, ...]:
    """Zone keys a destination matches, most specific first.

    ``("AU", "R:OC", "*")`` for a known country. An unknown country returns
    ``()`` (it does not even match ``"*"``), so callers can put the order on
    hold rather than ship it under a rest-of-world rule.
    """
    code = _normalise(country_code)
    region = COUNTRY_REGIONS.get(code)
    if region is None:
        return ()
    return (code, region, WILDCARD)


def parse_zone(key: str) -> str:
    """Normalise and validate a warehouse zone key.

    Accepts a known country code, a region key (``"R:OC"``) or ``"*"``, in any
    case and with surrounding whitespace; returns the upper-case form. Raises
    ``ValueError`` otherwise.
    """
    # Non-strings fall through to the generic ValueError below, so callers
    # only ever need to handle one exception type.
    norm = _normalise(key)
    if norm == WILDCARD or norm in REGIONS or norm in COUNTRY_REGIONS:
        return norm
    if not norm:
        raise ValueError(f"empty or non-string zone key {key!r}: expected a country code, a region key or '*'")
    if norm.startswith(REGION_PREFIX):
        raise ValueError(f"unknown region key {key!r}: expected one of {', '.join(REGIONS)}")
    hint = ""
    if REGION_PREFIX + norm in REGIONS:  # bare region code that is not a country
        hint = f" (did you mean region {REGION_PREFIX + norm!r}?)"
    raise ValueError(
        f"unknown zone key {key!r}: expected an ISO 3166-1 alpha-2 country code,"
        f" a region key ({', '.join(REGIONS)}) or '*'{hint}"
    )
