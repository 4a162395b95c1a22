"""Tests for inventory.zones (pure Python, no database)."""

import pytest

from inventory.zones import (
    COUNTRY_REGIONS,
    REGIONS,
    is_known_country,
    parse_zone,
    region_for,
    zones_for,
)


@pytest.mark.parametrize(
    ("country", "region"),
    [
        ("AU", "R:OC"),
        ("NZ", "R:OC"),
        ("FJ", "R:OC"),
        ("GU", "R:OC"),
        ("NC", "R:OC"),
        ("AS", "R:OC"),  # American Samoa, not Asia
        ("JP", "R:AS"),
        ("SG", "R:AS"),
        ("IN", "R:AS"),
        ("CN", "R:AS"),
        ("HK", "R:AS"),
        ("MO", "R:AS"),
        ("TW", "R:AS"),
        ("KZ", "R:AS"),
        ("AF", "R:AS"),  # Afghanistan, not Africa
        ("DE", "R:EU"),
        ("GB", "R:EU"),
        ("RU", "R:EU"),
        ("NO", "R:EU"),
        ("CH", "R:EU"),
        ("CY", "R:EU"),
        ("XK", "R:EU"),
        ("ME", "R:EU"),  # Montenegro, not Middle East
        ("ZA", "R:AF"),
        ("EG", "R:AF"),
        ("NG", "R:AF"),
        ("RE", "R:AF"),
        ("NA", "R:AF"),  # Namibia, not North America
        ("AE", "R:ME"),
        ("SA", "R:ME"),  # Saudi Arabia, not South America
        ("IL", "R:ME"),
        ("TR", "R:ME"),
        ("IR", "R:ME"),
        ("US", "R:NA"),
        ("CA", "R:NA"),
        ("MX", "R:NA"),
        ("JM", "R:NA"),
        ("PR", "R:NA"),
        ("PA", "R:NA"),
        ("BR", "R:SA"),
        ("AR", "R:SA"),
        ("CL", "R:SA"),
        ("AQ", "R:AN"),
        ("TF", "R:AN"),
    ],
)
def test_region_for_spot_checks(country, region):
    assert region_for(country) == region
    assert is_known_country(country)


@pytest.mark.parametrize("code", ["au", "Au", " au ", "gb\n"])
def test_case_and_whitespace_insensitive(code):
    expected = code.strip().upper()
    assert region_for(code) == COUNTRY_REGIONS[expected]
    assert is_known_country(code)
    assert zones_for(code)[0] == expected


@pytest.mark.parametrize("code", ["", "  ", "ZZ", "QQ", "UK", "EU", "OC", "AUS", "A", "R:OC", "*", None, 36])
def test_unknown_codes(code):
    assert region_for(code) is None
    assert not is_known_country(code)
    assert zones_for(code) == ()


def test_mapping_is_complete_and_consistent():
    assert len(COUNTRY_REGIONS) >= 245
    assert set(COUNTRY_REGIONS.values()) == set(REGIONS)
    for code, region in COUNTRY_REGIONS.items():
        assert len(code) == 2 and code.isalpha() and code.isupper(), code
        assert region in REGIONS
    # Region keys can never be mistaken for country keys.
    assert not set(REGIONS) & set(COUNTRY_REGIONS)
    assert all(key.startswith("R:") for key in REGIONS)


def test_zones_for_order_most_specific_first():
    assert zones_for("AU") == ("AU", "R:OC", "*")
    assert zones_for("na") == ("NA", "R:AF", "*")
    assert zones_for("US") == ("US", "R:NA", "*")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("AU", "AU"),
        ("au", "AU"),
        (" nz ", "NZ"),
        ("NA", "NA"),  # Namibia
        ("XK", "XK"),
        ("R:OC", "R:OC"),
        ("r:eu", "R:EU"),
        (" R:AN ", "R:AN"),
        ("*", "*"),
        (" * ", "*"),
    ],
)
def test_parse_zone_accepts(key, expected):
    assert parse_zone(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "",
        "   ",
        "ZZ",
        "UK",
        "OC",
        "EU",
        "AUS",
        "R:XX",
        "R:",
        "R:AU",
        "**",
        "AU,NZ",
        None,
        1,
    ],
)
def test_parse_zone_rejects(key):
    with pytest.raises(ValueError):
        parse_zone(key)


def test_parse_zone_error_messages_are_helpful():
    with pytest.raises(ValueError, match="'ZZ'"):
        parse_zone("ZZ")
    with pytest.raises(ValueError, match="did you mean region 'R:OC'"):
        parse_zone("oc")
    with pytest.raises(ValueError, match="unknown region key"):
        parse_zone("R:XX")
