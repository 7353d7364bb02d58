"""Channel specifier parsing of the 707B (707B-901-01 "Channel list parameter")."""

import pytest
from ftjlab.instruments.channel_specifiers import (
    ChannelList,
    ChannelSpecifierError,
    Crosspoint,
    MatrixGeometry,
    format_channel_list,
    parse_channel_list,
    parse_closed_reply,
    parse_crosspoint,
)
from hypothesis import given, settings
from hypothesis import strategies as st


def names(text, **kwargs):
    return [str(point) for point in parse_channel_list(text, **kwargs).crosspoints]


def test_single_crosspoint():
    assert parse_crosspoint("3C12") == Crosspoint(3, "C", 12)
    assert str(Crosspoint(1, "A", 1)) == "1A01"


def test_list_with_comma_semicolon_and_spaces_is_sorted_and_unique():
    assert names("1B02; 1A01, 1A01 ,6H12") == ["1A01", "1B02", "6H12"]


def test_row_range():
    assert names("1A01:1A05") == ["1A01", "1A02", "1A03", "1A04", "1A05"]


def test_rectangular_range():
    assert names("2B03:2C04") == ["2B03", "2B04", "2C03", "2C04"]


def test_full_card_range_has_96_points():
    assert len(names("4A01:4H12")) == 96


def test_single_point_range():
    assert names("1A01:1A01") == ["1A01"]


def test_lower_case_is_normalised():
    assert names("1a01,1b02") == ["1A01", "1B02"]
    assert str(parse_channel_list("ALLSLOTS")) == "allslots"


def test_slots_and_allslots():
    channels = parse_channel_list("slot2, 1A01, SLOT5")
    assert channels.slots == (2, 5)
    assert not channels.all_slots
    assert not channels.is_explicit
    assert str(channels) == "slot2,slot5,1A01"
    assert len(channels.expand()) == 2 * 96 + 1
    everything = parse_channel_list("allslots")
    assert everything.all_slots
    assert len(everything.expand()) == 6 * 96


def test_canonical_text_expands_ranges():
    assert str(parse_channel_list("1A01:1A03, 1C03")) == "1A01,1A02,1A03,1C03"


def test_custom_geometry():
    geometry = MatrixGeometry(slots=1, rows="ABCD", columns=4)
    assert names("1D04", geometry=geometry) == ["1D04"]
    with pytest.raises(ChannelSpecifierError, match="row 'E'"):
        parse_channel_list("1E01", geometry)


@pytest.mark.parametrize(
    ("text", "bad_item", "reason"),
    [
        ("1A01,7A01", "7A01", "slot 7 is not in 1-6"),
        ("0A01", "0A01", "slot 0"),
        ("1I01", "1I01", "row 'I' is not one of A-H"),
        ("1A13", "1A13", "column 13 is not in 01-12"),
        ("1A00", "1A00", "column 00"),
        ("1A1", "1A1", "exactly two digits"),
        ("1A001", "1A001", "exactly two digits"),
        ("1A05:1A01", "1A05:1A01", "after its end"),
        ("1C01:1A02", "1C01:1A02", "after its end"),
        ("1A01:2A01", "1A01:2A01", "one slot"),
        ("1A01:1A02:1A03", "1A01:1A02:1A03", "exactly one ':'"),
        ("1A01:", "1A01:", "exactly one ':'"),
        ("slot7", "slot7", "slot 7"),
        ("bogus", "bogus", "not a channel name"),
        ('1A01"); reset(); ("', '1A01")', "not a channel name"),
        ("1A 01", "1A 01", "not a channel name"),
    ],
)
def test_invalid_items_are_named(text, bad_item, reason):
    with pytest.raises(ChannelSpecifierError) as info:
        parse_channel_list(text)
    assert info.value.item == bad_item
    assert repr(bad_item) in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize("text", ["", "   ", ",", "1A01,", ",1A01", "1A01,,1A02", "1A01;;"])
def test_empty_items_are_errors(text):
    with pytest.raises(ChannelSpecifierError, match="empty"):
        parse_channel_list(text)


def test_all_or_nothing_one_bad_item_fails_the_list():
    with pytest.raises(ChannelSpecifierError, match="'1Z01'"):
        parse_channel_list("1A01,1A02,1Z01,1A03")


def test_slots_refused_when_not_allowed():
    for text in ("slot1", "allslots", "1A01,slot2"):
        with pytest.raises(ChannelSpecifierError, match="not allowed"):
            parse_channel_list(text, allow_slots=False)


def test_non_string_is_type_error():
    with pytest.raises(TypeError):
        parse_channel_list(["1A01"])  # type: ignore[arg-type]


def test_closed_reply():
    assert parse_closed_reply("nil") == []
    assert parse_closed_reply("") == []
    assert parse_closed_reply("1A01;1B02\n") == ["1A01", "1B02"]
    with pytest.raises(ChannelSpecifierError):
        parse_closed_reply("1A01;garbage")


def test_format_channel_list():
    assert format_channel_list(["1B02", Crosspoint(1, "A", 1), "1B02"]) == "1A01,1B02"


def test_geometry_is_validated():
    with pytest.raises(ValueError):
        MatrixGeometry(slots=10)
    with pytest.raises(ValueError):
        MatrixGeometry(rows="abc")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_random_text_never_crashes(text):
    try:
        result = parse_channel_list(text)
    except ValueError:
        return
    assert isinstance(result, ChannelList)


_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcslot:,; "


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=30))
def test_near_miss_text_never_crashes_and_round_trips(text):
    try:
        result = parse_channel_list(text)
    except ValueError:
        return
    # the canonical text parses to the same list
    assert parse_channel_list(str(result)) == result


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 6), st.sampled_from("ABCDEFGH"), st.integers(1, 12)
        ),
        min_size=1,
        max_size=10,
    )
)
def test_valid_names_always_parse(points):
    text = ",".join(f"{slot}{row}{column:02d}" for slot, row, column in points)
    parsed = parse_channel_list(text).crosspoints
    assert parsed == tuple(sorted({Crosspoint(*point) for point in points}))
