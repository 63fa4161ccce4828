"""Image ids from what a user types (pipeline/ids.py), and `ssdnet show` / open_map using them."""
from __future__ import annotations

import pytest

from pipeline.ids import UnknownId, match_id

IDS = ["arch/img_05.png", "arch/sub/img_06.png", "other/sub/img_06.png", "shots/a.png"]


def test_a_full_id_or_a_unique_tail_finds_the_id():
    assert match_id("arch/img_05.png", IDS) == "arch/img_05.png"
    assert match_id("img_05.png", IDS) == "arch/img_05.png"
    assert match_id("arch/sub/img_06.png", IDS) == "arch/sub/img_06.png"
    assert match_id("other/sub/img_06.png", IDS) == "other/sub/img_06.png"
    assert match_id("a.png", IDS) == "shots/a.png"


def test_a_tail_matches_whole_path_components_only():
    with pytest.raises(UnknownId):
        match_id("_05.png", IDS)  # not a component of arch/img_05.png


def test_an_ambiguous_tail_names_the_candidates():
    with pytest.raises(UnknownId, match=r"ambiguous: it ends 2 ids \(arch/sub/img_06.png, other/sub/img_06.png\)"):
        match_id("sub/img_06.png", IDS)


def test_no_match_suggests_the_closest_ids():
    with pytest.raises(UnknownId, match=r"no image id 'img_5.png' in this store; did you mean arch/img_05.png"):
        match_id("img_5.png", IDS)
    with pytest.raises(UnknownId, match=r"no image id 'zzz' in this store$"):
        match_id("zzz", IDS)


def test_readable_escapes_only_what_utf8_cannot_hold():
    from pipeline.ids import readable

    assert readable("src/é.png") == "src/é.png"
    assert readable("src/bad\udcff.png") == "src/bad\\xff.png"  # os.fsdecode(b"src/bad\xff.png")
    assert readable("x\ud800") == "x\\ud800"
    from pipeline.ids import unescaped
    for name in ("src/é.png", "src/bad\udcff.png", "src/a\\x41b.png"):  # the last: a literal backslash
        assert unescaped(readable(name)) == name
