"""CSV import: bad rows by line, BOM and Excel files, merging, opt-outs kept, one transaction."""

import pytest

from pain_news.importer import import_file


def write(tmp_path, text, name="list.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def emails(store):
    return [(r.email, r.status) for r in store.iter_subscribers()]


def test_bad_rows_are_reported_by_line_and_skipped(store, tmp_path):
    path = write(tmp_path, "email,first_name,last_name\n"
                 "ana@example.org,Ana,Diaz\n"
                 "not-an-address,Bad,Row\n"
                 ",No,Email\n"
                 "bo@example.org,Bo\n"
                 '"multi@example.org","Line\nBreak",X\n'
                 "cy@example.org,Cy,Young\n")
    summary = import_file(store, path)
    assert [(b.line, b.reason.split(":")[0]) for b in summary.bad_rows] == [
        (3, "invalid email address 'not-an-address'"), (4, "missing email address"),
        (5, "expected 3 columns, found 2")]
    assert [e for e, _ in emails(store)] == ["ana@example.org", "multi@example.org", "cy@example.org"]
    assert (summary.added, summary.skipped) == (3, 3)


def test_utf8_bom_and_header_spellings_are_accepted(store, tmp_path):
    path = write(tmp_path, "\ufeffE-mail,First Name,LAST_NAME,Tags\r\nzoë@example.org,Zoë,Núñez,knee; back\r\n")
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
    path = write(tmp_path, "email,first_name,last_name,tags\n"
                 "ANA@example.org,,Diaz,knee\n"
                 "bo@example.org,Bo,,\n"
                 "Bo@Example.org,,Smith,back\n")
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
