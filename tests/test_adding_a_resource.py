"""The page "Adding a resource" (docs/contributing/adding-a-resource.md) is true: the files it
shows, and only those, added to a copy of the project make a working resource. The test writes
each code block titled with a path into the copy (setting the migration's revisions as the page
says), migrates a database of its own (``flask init-db``, which also checks the permission
catalog), serves the copy with gunicorn, and runs the resource's create, read, update and delete
as its owner, another user and nobody."""

import re
import shutil
from pathlib import Path

import pytest

from tests.support.processes import (
    ROOT,
    SEED_ADMIN_PASSWORD,
    SEED_USER_PASSWORD,
    Database,
    call,
    flask,
    production_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PAGE = ROOT / "docs" / "contributing" / "adding-a-resource.md"
BLOCK = re.compile(r'```python title="([^"]+)"\n(.*?)```', re.S)
# What the page says a resource takes: its model and migration, its schemas, its blueprint.
EXPECTED_FILES = {
    "app/models/note.py",
    "migrations/versions/0022_notes.py",
    "app/schemas/note.py",
    "app/api/notes.py",
}


def blocks() -> dict[str, str]:
    return dict(BLOCK.findall(PAGE.read_text()))


def head_revision(project: Path) -> str:
    """The latest revision of the copy's migrations before the page's is added."""
    revisions, parents = set(), set()
    for script in (project / "migrations" / "versions").glob("*.py"):
        text = script.read_text()
        revisions.add(re.search(r'^revision = "([^"]+)"', text, re.M).group(1))
        parents.update(re.findall(r'^down_revision = "([^"]+)"', text, re.M))
    (head,) = revisions - parents
    return head


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    """The project's code and migrations, copied, with the page's files written in."""
    project = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "app", project / "app", ignore=ignore)
    shutil.copytree(ROOT / "migrations", project / "migrations", ignore=ignore)
    shutil.copy(ROOT / "gunicorn.conf.py", project)
    head = head_revision(project)
    for path, source in blocks().items():
        if path.startswith("migrations/"):
            # As the page says: the next revision, after the latest one.
            source = re.sub(r'^revision = "[^"]+"', 'revision = "notes"', source, flags=re.M)
            source = re.sub(
                r'^down_revision = "[^"]+"', f'down_revision = "{head}"', source, flags=re.M
            )
        (project / path).write_text(source)
    return project


@pytest.fixture(scope="module")
def notes_server(copy, serve, tmp_path_factory):
    database = Database(tmp_path_factory.mktemp("notes-db"))
    env = production_env(database.url)
    for command in ("init-db", "seed-db"):
        result = flask(command, env=env, cwd=copy)
        assert result.returncode == 0, result.stderr
    yield serve(env=env, cwd=copy)
    database.cleanup()


def test_the_page_shows_the_three_places_and_nothing_else() -> None:
    headings = re.findall(r"^## (\d)\. (.+)$", PAGE.read_text(), re.M)

    assert set(blocks()) == EXPECTED_FILES
    assert [title for _, title in headings] == [
        "The model and its migration",
        "The schemas",
        "The blueprint, with its permissions",
    ]


def login(server, username: str, password: str) -> str:
    status, _, body = call(
        server.base_url, "POST", "/login", {"username": username, "password": password}
    )
    assert status == 200, body
    return body["access_token"]


def test_the_resource_the_page_adds_works(notes_server) -> None:
    base = notes_server.base_url
    owner = login(notes_server, "user", SEED_USER_PASSWORD)
    other = login(notes_server, "admin", SEED_ADMIN_PASSWORD)

    created = call(base, "POST", "/notes", {"title": "First", "body": "Hello"}, token=owner)
    note_id = created[2]["id"]
    listed = call(base, "GET", "/notes", token=owner)
    shown = call(base, "GET", f"/notes/{note_id}", token=owner)
    changed = call(base, "PATCH", f"/notes/{note_id}", {"title": "Renamed"}, token=owner)
    not_yours = call(base, "GET", f"/notes/{note_id}", token=other)
    others_list = call(base, "GET", "/notes", token=other)
    anonymous = call(base, "GET", "/notes")
    unknown_field = call(base, "POST", "/notes", {"title": "x", "owner_id": 1}, token=owner)
    deleted = call(base, "DELETE", f"/notes/{note_id}", token=owner)
    gone = call(base, "GET", f"/notes/{note_id}", token=owner)

    assert created[0] == 201
    assert created[1]["Location"] == f"/notes/{note_id}"
    assert (created[2]["title"], created[2]["body"]) == ("First", "Hello")
    assert listed[0] == 200
    assert [item["id"] for item in listed[2]["items"]] == [note_id]
    assert (shown[0], shown[2]["title"]) == (200, "First")
    assert (changed[0], changed[2]["title"]) == (200, "Renamed")
    assert (not_yours[0], not_yours[2]["error"]) == (404, "not_found")
    assert (others_list[0], others_list[2]["items"]) == (200, [])
    assert (anonymous[0], anonymous[2]["error"]) == (401, "missing_token")
    assert (unknown_field[0], unknown_field[2]["details"]) == (
        422,
        {"owner_id": ["Unknown field."]},
    )
    assert (deleted[0], deleted[2]) == (204, None)
    assert gone[0] == 404


def test_the_resource_is_linked_documented_and_guarded_by_its_permissions(notes_server) -> None:
    base = notes_server.base_url
    root = call(base, "GET", "/")
    spec = call(base, "GET", "/openapi.json")
    catalog = call(
        base,
        "GET",
        "/permissions?per_page=100",
        token=login(notes_server, "user", SEED_USER_PASSWORD),
    )

    assert root[2]["_links"]["notes"] == "/notes"
    assert spec[2]["paths"]["/notes"]["get"]["security"] == [{"bearerAuth": ["notes:read"]}]
    assert spec[2]["paths"]["/notes/{note_id}"]["patch"]["security"] == [
        {"bearerAuth": ["notes:write"]}
    ]
    described = {item["name"]: item["description"] for item in catalog[2]["items"]}
    assert described["notes:write"] == "Write, change and delete your notes."
