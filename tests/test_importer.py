"""CSV import: bad rows by line, BOM and Excel files, merging, opt-outs kept, one transaction."""

import pytest

from pain_news.subscribers.importer import import_file


def write(tmp_path, text, name="list.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def emails(store):
    return [(r.email, r.status) for r in store.iter_subscribers()]


def test_bad_rows_are_reported_by_line_and_skipped(store, tmp_path):
    path = write(
        tmp_path,
        "email,first_name,last_name\n"
        "ana@example.org,Ana,Diaz\n"
        "not-an-address,Bad,Row\n"
        ",No,Email\n"
        "bo@example.org,Bo\n"
        '"multi@example.org","Line\nBreak",X\n'
        "cy@example.org,Cy,Young\n",
    )
    summary = import_file(store, path)
    assert [(b.line, b.reason.split(":")[0]) for b in summary.bad_rows] == [
        (3, "invalid email address 'not-an-address'"),
        (4, "missing email address"),
        (5, "expected 3 columns, found 2"),
    ]
    assert [e for e, _ in emails(store)] == ["ana@example.org", "multi@example.org", "cy@example.org"]
    assert (summary.added, summary.skipped) == (3, 3)


def test_utf8_bom_and_header_spellings_are_accepted(store, tmp_path):
    path = write(
        tmp_path, "\ufeffE-mail,First Name,LAST_NAME,Tags\r\nzoë@example.org,Zoë,Núñez,knee; back\r\n"
    )
    assert import_file(store, path).added == 1
    record = store.get("zoë@example.org")
    assert (record.first_name, record.last_name, record.tags) == ("Zoë", "Núñez", ("back", "knee"))


def test_excel_semicolon_windows_1252_file_is_read(store, tmp_path):
    path = write(tmp_path, "Email;First name\r\nrene@example.org;René\r\n", encoding="cp1252")
    summary = import_file(store, path)
    assert (summary.added, summary.encoding) == (1, "windows-1252")
    assert store.get("rene@example.org").first_name == "René"


def test_duplicates_in_file_and_store_are_merged(store, tmp_path):
    store.add("ana@example.org", "Ana")
    path = write(
        tmp_path,
        "email,first_name,last_name,tags\n"
        "ANA@example.org,,Diaz,knee\n"
        "bo@example.org,Bo,,\n"
        "Bo@Example.org,,Smith,back\n",
    )
    summary = import_file(store, path)
    assert (summary.added, summary.updated, summary.merged_duplicates) == (1, 1, 1)
    assert (store.get("ana@example.org").last_name, store.get("ana@example.org").tags) == ("Diaz", ("knee",))
    bo = store.get("bo@example.org")
    assert (bo.email, bo.first_name, bo.last_name, bo.tags) == ("bo@example.org", "Bo", "Smith", ("back",))
    assert import_file(store, path).unchanged == 2


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "complained"])
def test_reimport_never_reactivates_an_opt_out(any_store, tmp_path, status):
    any_store.add("ana@example.org")
    any_store.opt_out("ana@example.org", status, "webhook")
    summary = import_file(any_store, write(tmp_path, "email,first_name\nana@example.org,Ana\n"), tags=("x",))
    assert (summary.kept_opted_out, summary.updated, summary.added) == (1, 0, 0)
    record = any_store.get("ana@example.org")
    assert (record.status, record.first_name, record.tags) == (status, "", ())


def test_deleted_address_is_not_added_back(any_store, tmp_path):
    any_store.add("ana@example.org")
    any_store.delete("ana@example.org")
    summary = import_file(any_store, write(tmp_path, "email\nAna@Example.org\n"))
    assert (summary.kept_opted_out, summary.added) == (1, 0)
    assert any_store.get("ana@example.org") is None


def test_opt_out_status_in_the_file_is_kept(store, tmp_path):
    store.add("bo@example.org")
    path = write(tmp_path, "email,status\nana@example.org,unsubscribed\nbo@example.org,complained\n")
    import_file(store, path)
    assert emails(store) == [("bo@example.org", "complained"), ("ana@example.org", "unsubscribed")]


def test_a_status_that_is_not_active_or_an_opt_out_is_never_imported_as_active(store, tmp_path):
    # An unconfirmed signup (pending) never asked to be mailed; an unknown spelling of an opt-out
    # ("opted out", "unsubscibed") must not turn into an active subscriber either.
    path = write(
        tmp_path,
        "email,status\n"
        "ana@example.org,Active\n"
        "bo@example.org,pending\n"
        "cy@example.org,opted out\n"
        "di@example.org,\n"
        "ed@example.org,Bounced\n",
    )
    summary = import_file(store, path)
    assert [(b.line, b.reason) for b in summary.bad_rows] == [
        (3, "status 'pending': a signup that was never confirmed is not imported"),
        (4, "unknown status 'opted out' (expected active, unsubscribed, bounced or complained)"),
    ]
    assert emails(store) == [
        ("ana@example.org", "active"),
        ("di@example.org", "active"),
        ("ed@example.org", "bounced"),
    ]


def test_dry_run_saves_nothing(store, tmp_path):
    summary = import_file(store, write(tmp_path, "email\nana@example.org\n"), dry_run=True)
    assert summary.added == 1 and "dry run" in summary.summary_line()
    assert emails(store) == []


def test_interrupted_import_leaves_the_store_as_it_was(any_store, tmp_path):
    any_store.add("keep@example.org")
    rows = "".join(f"user{i}@example.org\n" for i in range(5000))
    path = write(tmp_path, "email\n" + rows)

    def interrupt(done, total):  # Ctrl-C after the first chunk reached the database
        assert done < total
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(any_store, path, on_progress=interrupt)
    assert emails(any_store) == [("keep@example.org", "active")]


def test_broken_csv_midway_names_the_line_and_imports_nothing(store, tmp_path):
    import csv

    big = "x" * (csv.field_size_limit() + 1)
    path = write(tmp_path, "email,first_name\nana@example.org,Ana\nbo@example.org," + big + "\n")
    from pain_news.errors import StoreError

    with pytest.raises(StoreError, match="broken CSV") as caught:
        import_file(store, path)
    assert caught.value.line == 3
    assert emails(store) == []


def test_file_without_email_column_is_refused(store, tmp_path):
    from pain_news.errors import StoreError

    with pytest.raises(StoreError, match="no 'email' column"):
        import_file(store, write(tmp_path, "name,phone\nAna,555\n"))


def test_an_unsubscribe_committed_during_an_import_is_never_overwritten(any_store, tmp_path, monkeypatch):
    from pain_news.subscribers.store import bulk_import
    from tests.fixtures.store import Race

    any_store.add("ana@example.org", "Ana")
    race = Race(lambda: any_store.unsubscribe("ana@example.org", "link"))
    read_known = bulk_import.read_known

    def read_then_race(s, keys):  # the unsubscribe page is used between the import's read and its write
        known = read_known(s, keys)
        race.fire()
        return known

    monkeypatch.setattr(bulk_import, "read_known", read_then_race)
    path = write(tmp_path, "email,first_name,tags\nana@example.org,Ana Maria,knee\n")
    import_file(any_store, path)
    race.finish()
    record, events = any_store.history("ana@example.org")
    assert (record.status, record.opt_out_method) == ("unsubscribed", "link")
    assert [(e.old_status, e.new_status, e.method) for e in events][-1] == ("active", "unsubscribed", "link")


def test_an_opt_out_of_a_new_address_during_its_import_applies_to_the_imported_row(
    any_store, tmp_path, monkeypatch
):
    from pain_news.subscribers.store import bulk_import
    from tests.fixtures.store import Race

    race = Race(lambda: any_store.opt_out_address("new@example.org", "complained", "webhook"))
    read_known = bulk_import.read_known

    def read_then_race(s, keys):  # SendGrid reports a complaint while the import adds the address
        known = read_known(s, keys)
        race.fire()
        return known

    monkeypatch.setattr(bulk_import, "read_known", read_then_race)
    import_file(any_store, write(tmp_path, "email\nnew@example.org\n"))
    race.finish()
    assert any_store.get("new@example.org").status == "complained"


def test_database_failure_in_a_later_chunk_saves_nothing(any_store, tmp_path):
    from pain_news.errors import StoreError
    from tests.fixtures.store import refuse_insert_of

    any_store.add("keep@example.org")
    refuse_insert_of(any_store.engine, "user4321@example.org")  # in the third chunk of 2,000
    path = write(tmp_path, "email\n" + "".join(f"user{i}@example.org\n" for i in range(5000)))
    written = []
    with pytest.raises(
        StoreError, match="the subscriber database refused"
    ):  # converted where it leaves the store
        import_file(any_store, path, on_progress=lambda done, total: written.append(done))
    assert written == [2000, 4000]  # two chunks reached the database before it failed
    assert emails(any_store) == [("keep@example.org", "active")]


@pytest.mark.parametrize(
    "cell, reason",
    [
        ("ana\x00@example.org", "invalid email address"),
        ("ana@example.org,An\x00a", "first name contains a control character (U+0000)"),
        ("ana@example.org,Ana,Di\x1baz", "last name contains a control character (U+001B)"),
        ("ana@example.org,Ana,Diaz,kn\x07ee", "contains a control character (U+0007)"),
        ("ana@example.org,Ana,Diaz," + "k" * 101, "longer than 100 characters"),
    ],
)
def test_control_characters_and_long_tags_make_a_bad_row_with_its_line(any_store, tmp_path, cell, reason):
    cells = cell.split(",") + [""] * (4 - len(cell.split(",")))
    path = write(tmp_path, "email,first_name,last_name,tags\nbo@example.org,Bo,,\n" + ",".join(cells) + "\n")
    summary = import_file(any_store, path)
    [bad] = summary.bad_rows
    assert bad.line == 3 and reason in bad.reason
    assert [e for e, _ in emails(any_store)] == ["bo@example.org"]


def test_line_breaks_inside_a_quoted_name_become_spaces(store, tmp_path):
    import_file(store, write(tmp_path, 'email,first_name\nana@example.org,"Ana\r\nMaria"\n'))
    assert store.get("ana@example.org").first_name == "Ana Maria"


def test_too_long_tag_option_is_refused_before_anything_is_saved(store, tmp_path):
    from pain_news.errors import StoreError

    with pytest.raises(StoreError, match="longer than 100 characters"):
        import_file(store, write(tmp_path, "email\nana@example.org\n"), tags=("t" * 101,))
    assert emails(store) == []


def test_many_existing_rows_are_updated_and_opted_out_in_one_import(any_store, tmp_path):
    for i in range(4):
        any_store.add(f"u{i}@example.org")
    path = write(
        tmp_path,
        "email,first_name,status\nu0@example.org,Ann,\nu1@example.org,Bo,\n"
        "u2@example.org,,unsubscribed\nu3@example.org,,bounced\n",
    )
    assert import_file(any_store, path).updated == 4
    assert [(r.first_name, r.status) for r in any_store.iter_subscribers()] == [
        ("Ann", "active"),
        ("Bo", "active"),
        ("", "unsubscribed"),
        ("", "bounced"),
    ]


def test_quotes_backslashes_and_braces_survive_the_bulk_paths(any_store, tmp_path):
    # PostgreSQL receives each column as one array literal: these characters must not break it.
    path = write(
        tmp_path, 'email,first_name,last_name,tags\nana@example.org,"O""Neil {a,b}",Back\\slash,"x""y"\n'
    )
    assert import_file(any_store, path).added == 1
    record = any_store.get("ana@example.org")
    assert (record.first_name, record.last_name, record.tags) == ('O"Neil {a,b}', "Back\\slash", ('x"y',))
    path = write(
        tmp_path, "email,first_name,tags\nbo@example.org,NULL,null\n"
    )  # the word, not a missing value
    assert import_file(any_store, path).added == 1
    assert (any_store.get("bo@example.org").first_name, any_store.get("bo@example.org").tags) == (
        "NULL",
        ("null",),
    )


def test_merged_rows_come_out_after_their_last_line_in_the_order_of_their_first(tmp_path):
    from pain_news.subscribers.csv_files import count_addresses, read_rows
    from pain_news.subscribers.importer import ImportSummary, merge_rows

    text = (
        "email,first_name,tags\n"
        "bo@example.org,Bo,\n"  # 2: its only line
        "ana@example.org,,knee\n"  # 3
        "not-an-address,,\n"  # 4: bad
        "cy@example.org,Cy,\n"  # 5: waits behind ana
        "ANA@example.org,Ana,Back\n"  # 6: ana's last line
        "dee@example.org,D\x00,\n"  # 7: bad, yet it counts as one of dee's lines
        "dee@example.org,Dee,\n"  # 8: so dee comes out at the end of the file
        "eve@example.org,Eve,\n"  # 9
    )
    lines_read = []

    def reading():
        for row in read_rows(tmp_path / "list.csv", text):
            lines_read.append(row.line)
            yield row

    summary = ImportSummary()
    out = [
        (row.email, row.first_name, row.tags, lines_read[-1])
        for row in merge_rows(reading(), ("vip",), summary, count_addresses(text))
    ]
    assert out == [
        ("bo@example.org", "Bo", ("vip",), 2),
        ("ana@example.org", "Ana", ("back", "knee", "vip"), 6),
        ("cy@example.org", "Cy", ("vip",), 6),
        ("dee@example.org", "Dee", ("vip",), 9),
        ("eve@example.org", "Eve", ("vip",), 9),
    ]
    assert ([b.line for b in summary.bad_rows], summary.merged_duplicates) == ([4, 7], 1)


def test_dry_run_of_several_chunks_saves_nothing(any_store, tmp_path):
    any_store.add("keep@example.org")
    path = write(tmp_path, "email,tags\n" + "".join(f"user{i}@example.org,back\n" for i in range(5000)))
    summary = import_file(any_store, path, dry_run=True)
    assert summary.added == 5000
    assert emails(any_store) == [("keep@example.org", "active")]
    assert import_file(any_store, path).added == 5000  # ids the dry run took are simply skipped


def test_broken_csv_after_several_chunks_names_the_line_and_imports_nothing(any_store, tmp_path):
    import csv

    from pain_news.errors import StoreError

    any_store.add("keep@example.org")
    big = "x" * (csv.field_size_limit() + 1)
    rows = "".join(f"user{i}@example.org,U\n" for i in range(5000))
    path = write(tmp_path, "email,first_name\n" + rows + "bo@example.org," + big + "\n")
    with pytest.raises(StoreError, match="broken CSV") as caught:  # PostgreSQL wrote chunks meanwhile
        import_file(any_store, path)
    assert caught.value.line == 5002
    assert emails(any_store) == [("keep@example.org", "active")]


def test_names_tags_and_a_file_name_with_backslashes_and_quotes_arrive_unchanged(any_store, tmp_path):
    path = write(
        tmp_path,
        'email,first_name,last_name,tags\nana@example.org,"Ana\\\\N","O\'Brien ""Jr""",back\\slash;{x}\n',
        name='we\\ird\t"list".csv',
    )
    import_file(any_store, path)
    record, events = any_store.history("ana@example.org")
    assert (record.first_name, record.last_name, record.tags) == (
        "Ana\\\\N",
        'O\'Brien "Jr"',
        ("back\\slash", "{x}"),
    )
    assert record.source == 'import:we\\ird\t"list".csv'
    assert events[-1].detail == 'imported from import:we\\ird\t"list".csv'
