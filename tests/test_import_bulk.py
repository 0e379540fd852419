"""A few thousand mixed rows in one import (PostgreSQL's COPY path, SQLite's chunks): every guarantee holds."""

from pain_news.subscribers.importer import import_file


def write(tmp_path, lines, name="list.csv"):
    path = tmp_path / name
    path.write_text("email,first_name,last_name,tags,status\n" + "".join(f"{line}\n" for line in lines))
    return path


def test_a_large_mixed_import_keeps_every_guarantee(any_store, tmp_path, monkeypatch):
    from pain_news.subscribers.store import bulk_import
    from tests.fixtures.store import Race

    active = [f"active{i}@example.org" for i in range(1500)]
    opted = [f"out{i}@example.org" for i in range(300)]
    racing = active[:40]  # unsubscribed on their page while the import runs
    first = [f"{e},Old,Name,back," for e in active] + [f"{e},Old,Name,,unsubscribed" for e in opted]
    assert import_file(any_store, write(tmp_path, first, "first.csv")).added == 1800
    any_store.opt_out_addresses([f"gone{i}@example.org" for i in range(200)], "bounced", "webhook")

    race = Race(lambda: any_store.opt_out_addresses(racing, "unsubscribed", "link"))
    read_known = bulk_import.read_known

    def read_then_race(s, keys):  # the unsubscribes arrive between the import's read and its write
        known = read_known(s, keys)
        race.fire()
        return known

    monkeypatch.setattr(bulk_import, "read_known", read_then_race)
    second = (
        [f"{e},New,Name,knee," for e in active[:1000]]  # updated: a tag (names only fill empty ones)
        + [f"{e},Old,Name,back," for e in active[1000:1400]]  # unchanged
        + [f"{e},Back,Again,knee," for e in opted]  # opted out: never touched
        + [f"gone{i}@example.org,Gone,,," for i in range(200)]  # suppressed: never re-added
        + [f"{e},,,,unsubscribed" for e in active[1400:1450]]  # the file records an opt-out
        + [f"new{i}@Example.org,Nia,Neu,hip;{'back' if i % 2 else ''}," for i in range(2000)]
    )
    summary = import_file(any_store, write(tmp_path, second, "second.csv"))
    race.finish()

    assert (summary.added, summary.updated, summary.unchanged, summary.kept_opted_out) == (
        2000,
        1050,
        400,
        500,
    )
    stats = {r.email: r for r in any_store.iter_subscribers()}
    assert len(stats) == 3800
    assert not any(e.startswith("gone") for e in stats)
    for email in racing:  # the concurrent unsubscribes are not overwritten by the import's update
        record, events = any_store.history(email)
        assert (record.status, record.opt_out_method) == ("unsubscribed", "link")
        assert [(e.new_status, e.method) for e in events][-1] == ("unsubscribed", "link")
        assert (record.first_name, record.tags) == ("Old", ("back", "knee"))
    for email in opted:  # sacred: not reactivated, names and tags as they were, no new history
        record, events = any_store.history(email)
        assert (record.status, record.first_name, record.tags) == ("unsubscribed", "Old", ())
        assert len(events) == 1
    assert {stats[e].status for e in active[1400:1450]} == {"unsubscribed"}
    assert {(stats[e].status, stats[e].first_name) for e in active[40:1000]} == {("active", "Old")}
    new = any_store.history("new7@example.org")
    assert (new[0].email, new[0].tags, new[0].status) == ("new7@Example.org", ("back", "hip"), "active")
    assert [(e.old_status, e.new_status, e.method) for e in new[1]] == [(None, "active", "import")]
    assert any_store.get("new8@example.org").tags == ("hip",)
    ids = [stats[f"new{i}@Example.org"].id for i in range(2000)]
    assert ids == sorted(ids)  # added in file order
