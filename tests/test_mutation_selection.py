"""Which tests mutation testing runs (`invoke mutate`): mutmut runs only the test modules listed
in pyproject.toml, so a module left off that list lets mutants survive that its tests would
kill. Every in-process test module is on it, or named here with the reason it is not."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SELECTION = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"][
    "pytest_add_cli_args_test_selection"
]

# Modules whose tests all start real processes (marked e2e for the whole module) are left out
# by mutmut's own `-m "not e2e"`; these are the others left off the list, and why.
OUTSIDE = {
    "test_database_paths.py": "transactions and connections per request, not who may do what",
    "test_deployment.py": "what Heroku and gunicorn read; starts subprocesses, where no mutant is",
    "test_embedded_db.py": "starts PostgreSQL servers of its own",
    "test_fuzz.py": "schemathesis against a running server (every test e2e)",
    "test_mail_queue.py": "the mail queue: its in-process tests reach no module under mutation",
    "test_mutation_selection.py": "reads pyproject.toml",
    "test_openapi.py": "the OpenAPI document, built from the routes and schemas",
    "test_pages.py": "HTML pages and the headers they are sent with",
    "test_postman.py": "the Postman collection's file",
    "test_sql_dump.py": "PostgreSQL's dump of a page's items",
}


def _whole_module_e2e(path: Path) -> bool:
    return re.search(r"^pytestmark = .*pytest\.mark\.e2e", path.read_text(), re.M) is not None


def test_every_in_process_test_module_is_mutation_tested_or_named_outside() -> None:
    modules = {path.name: path for path in (ROOT / "tests").glob("test_*.py")}
    selected = {Path(entry).name for entry in SELECTION}
    server_only = {name for name, path in modules.items() if _whole_module_e2e(path)}

    unplaced = set(modules) - selected - server_only - set(OUTSIDE)

    assert unplaced == set(), f"add to [tool.mutmut] or name in OUTSIDE: {sorted(unplaced)}"
    assert selected - set(modules) == set(), "the selection names modules that do not exist"
    assert set(OUTSIDE) - set(modules) == set(), "OUTSIDE names modules that do not exist"
    assert selected & (server_only | set(OUTSIDE)) == set()
    assert len(selected) >= 30
