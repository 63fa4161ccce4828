"""The store writer's row table: what goes in comes back, through growth, removal and moves."""
import hashlib

from pipeline.rowtable import Row, RowTable


def sha(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def test_rows_round_trip_through_growth():
    t = RowTable()
    rows = {f"src/img_{i}.png": Row(f"{8 + i % 3}x8", i, sha(i), "ok" if i % 5 else "failed", i * 7, 10**18 + i)
            for i in range(3000)}  # past the first 1,024 slots
    for image_id, row in rows.items():
        t.put(image_id, row)
    assert len(t) == 3000 and set(t) == set(rows)
    assert all(t.get(k) == v for k, v in rows.items())
    assert t.get("src/absent.png") is None and "src/absent.png" not in t


def test_shas_that_are_not_lowercase_hex_come_back_as_given():
    t = RowTable()
    for i, value in enumerate(["", sha(1).upper(), "not-a-sha", "z" * 64, sha(2)]):
        t.put(f"a/{i}", Row("1x1", i, value, "ok"))
        assert t.get(f"a/{i}").sha256 == value


def test_pop_frees_a_slot_that_a_new_row_reuses_without_old_values():
    t = RowTable()
    t.put("a/odd", Row("4x4", 0, "odd sha", "ok", 5, 6))
    t.put("a/b", Row("4x4", 1, sha(1), "ok", 5, 6))
    assert t.pop("a/odd") == Row("4x4", 0, "odd sha", "ok", 5, 6)
    assert t.pop("a/odd") is None and len(t) == 1
    t.put("a/new", Row("2x2", 3, "", "failed"))
    assert t.get("a/new") == Row("2x2", 3, "", "failed", -1, -1)
    assert t.get("a/b") == Row("4x4", 1, sha(1), "ok", 5, 6)


def test_move_and_set_stat_change_only_their_fields():
    t = RowTable()
    t.put("a/b", Row("4x4", 1, sha(1), "ok", 5, 6))
    t.move("a/b", 9)
    t.set_stat("a/b", 50, 60)
    assert t.get("a/b") == Row("4x4", 9, sha(1), "ok", 50, 60)
    t.put("a/b", Row("8x8", 2, sha(2), "failed", 1, 2))  # a rewrite replaces every field
    assert t.get("a/b") == Row("8x8", 2, sha(2), "failed", 1, 2)
