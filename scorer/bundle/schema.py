"""What Codabench's v2 unpacker requires of ``competition.yaml``: a pure check, dict -> problems.

Encoded from codalab/codabench (snapshot of 2026-03-13, commit c7dbc75):

- ``src/apps/competitions/tasks.py`` (``unpack_competition``): ``competition.yaml`` at the
  root of the zip; ``str(version)`` must be ``"2"`` (absent: read as version 1, another
  unpacker and another format);
- ``src/apps/competitions/unpackers/v2.py`` and ``base_unpacker.py``: ``title``; ``image``
  (a file in the bundle: the logo; the docker image is ``docker_image``); ``terms`` (a
  non-empty file); ``pages`` (each ``title`` and a non-empty ``file``); ``tasks`` (each an
  ``index``, unique, and either a ``key`` or a ``scoring_program``; ``ingestion_program``,
  ``input_data``, ``reference_data`` and ``scoring_program`` are paths in the bundle: a
  folder or a zip, else a dataset key); ``phases`` (each ``name``, ``start``, ``tasks``
  naming task indexes; optional ``execution_time_limit`` in seconds, a positive integer
  (``competitions/models.py``: ``PositiveIntegerField``, default 600); a phase followed by
  another needs an ``end``); ``leaderboards`` (the key is ``leaderboards``: a
  ``leaderboard:`` key, as in the documentation's example, is never read);
- ``src/apps/api/serializers/leaderboards.py`` and ``leaderboards/models.py``: a
  leaderboard has ``title`` (at most 64 characters), ``key`` (36) and at least one column;
  a column has ``title`` (36), ``key`` (36), ``index``; indexes and keys unique;
  ``sorting`` is ``desc`` or ``asc``; the phase's leaderboard is the first one.
- ``compute_worker/compute_worker.py``: a program folder holds ``metadata.yaml`` (or
  ``metadata``) whose ``command`` is run with ``/app/program`` as working directory; the
  scoring program's ``/app/output/scores.json`` is read key by key against the columns'
  keys (other keys are dropped; a value must be a number).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

TASK_FILES = ("ingestion_program", "input_data", "scoring_program", "reference_data")
SORTING = ("desc", "asc")
LEADERBOARD_TITLE_MAX, KEY_MAX, COLUMN_TITLE_MAX = 64, 36, 36


def _text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _when(value) -> bool:
    if isinstance(value, date | datetime):
        return True
    if not _text(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _in_bundle(path, files: set[str] | None) -> bool:
    """A path the unpacker can open: a file, or a folder (it zips folders itself)."""
    if files is None:
        return True
    path = path.rstrip("/")
    return path in files or any(f.startswith(path + "/") for f in files)


def _file_problems(where: str, path, files: set[str] | None, what: str = "file") -> list[str]:
    if not _text(path):
        return [f"{where}: must name a {what} in the bundle"]
    if not _in_bundle(path, files):
        return [f"{where}: {path!r} is not in the bundle"]
    return []


def _page_problems(competition: Mapping, files: set[str] | None) -> list[str]:
    found = _file_problems("terms", competition.get("terms"), files)
    pages = competition.get("pages")
    if not isinstance(pages, list):  # v2.py iterates it unconditionally
        return [*found, "pages: must be a list (each with title and file)"]
    for number, page in enumerate(pages):
        if not isinstance(page, Mapping) or not _text(page.get("title")):
            found.append(f"pages[{number}]: needs a title")
            continue
        found += _file_problems(f"pages[{number}].file", page.get("file"), files)
    return found


def _task_problems(competition: Mapping, files: set[str] | None) -> tuple[list[str], set]:
    tasks = competition.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        return ["tasks: no tasks listed"], set()
    found, indexes = [], set()
    for number, task in enumerate(tasks):
        where = f"tasks[{number}]"
        if not isinstance(task, Mapping) or not _index(task.get("index")):
            found.append(f"{where}: needs an index (a whole number >= 0)")
            continue
        if task["index"] in indexes:
            found.append(f"{where}: duplicate task index {task['index']}")
        indexes.add(task["index"])
        if "key" in task:
            continue  # an existing task: every other field is ignored
        if "scoring_program" not in task:
            found.append(f"{where}: has no scoring_program")
        for name in TASK_FILES:
            if name in task:
                found += _file_problems(f"{where}.{name}", task[name], files, "folder or zip")
    return found, indexes


def _phase_problems(competition: Mapping, task_indexes: set) -> list[str]:
    phases = competition.get("phases")
    if not isinstance(phases, list) or not phases:
        return ["phases: none found (at least one)"]
    found = []
    for number, phase in enumerate(phases):
        where = f"phases[{number}]"
        if not isinstance(phase, Mapping):
            found.append(f"{where}: must be a mapping")
            continue
        if not _text(phase.get("name")):
            found.append(f"{where}: needs a name")
        if not _when(phase.get("start")):
            found.append(f"{where}: needs a start date (YYYY-MM-DD [HH:MM:SS])")
        if number < len(phases) - 1 and not _when(phase.get("end")):
            found.append(f"{where}: needs an end, since another phase follows it")
        tasks = phase.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            found.append(f"{where}: must list at least one task index")
        else:
            found += [
                f"{where}: task index {t!r} is not a task of the bundle"
                for t in tasks
                if t not in task_indexes
            ]
        limit = phase.get("execution_time_limit")
        if limit is not None and not (_index(limit) and limit > 0):
            found.append(f"{where}: execution_time_limit must be a positive whole number (s)")
        if "execution_time_limit_ms" in phase:
            found.append(f"{where}: execution_time_limit_ms is not read (execution_time_limit, s)")
    return found


def _column_problems(where: str, columns) -> list[str]:
    if not isinstance(columns, list) or not columns:
        return [f"{where}.columns: a leaderboard needs at least one column"]
    found, indexes, keys = [], set(), set()
    for number, column in enumerate(columns):
        at = f"{where}.columns[{number}]"
        if not isinstance(column, Mapping):
            found.append(f"{at}: must be a mapping")
            continue
        for field, most in (("title", COLUMN_TITLE_MAX), ("key", KEY_MAX)):
            value = column.get(field)
            if not _text(value) or len(value) > most:
                found.append(f"{at}: {field} must be text of at most {most} characters")
        if not _index(column.get("index")):
            found.append(f"{at}: needs an index (a whole number >= 0)")
        elif column["index"] in indexes:
            found.append(f"{at}: duplicate column index {column['index']}")
        else:
            indexes.add(column["index"])
        if column.get("key") in keys:
            found.append(f"{at}: duplicate column key {column['key']!r}")
        keys.add(column.get("key"))
        if column.get("sorting", "desc") not in SORTING:
            found.append(f"{at}: sorting must be desc or asc")
        if "computation" in column and not column.get("computation_indexes"):
            found.append(f"{at}: a computation needs computation_indexes")
    return found


def _leaderboard_problems(competition: Mapping) -> list[str]:
    if "leaderboards" not in competition:
        hint = " (the key is 'leaderboards', not 'leaderboard')" * ("leaderboard" in competition)
        return [f"leaderboards: missing{hint}"]
    boards = competition["leaderboards"]
    if not isinstance(boards, list) or not boards:
        return ["leaderboards: must be a non-empty list"]
    found = []
    for number, board in enumerate(boards):
        where = f"leaderboards[{number}]"
        if not isinstance(board, Mapping):
            found.append(f"{where}: must be a mapping")
            continue
        for field, most in (("title", LEADERBOARD_TITLE_MAX), ("key", KEY_MAX)):
            value = board.get(field)
            if not _text(value) or len(value) > most:
                found.append(f"{where}: {field} must be text of at most {most} characters")
        found += _column_problems(where, board.get("columns"))
    return found


def problems(competition, files: set[str] | None = None) -> list[str]:
    """Every reason Codabench's v2 unpacker would refuse ``competition`` (a parsed
    ``competition.yaml``); ``files``: the bundle's file paths, to check the paths it names
    (None: not checked). Empty when it would be accepted."""
    if not isinstance(competition, Mapping):
        return ["competition.yaml: must be a mapping"]
    found = []
    if str(competition.get("version", "1")) != "2":
        found.append("version: must be 2 (without it the bundle is read as version 1)")
    if not _text(competition.get("title")):
        found.append("title: missing")
    found += _file_problems("image", competition.get("image"), files, "logo file")
    found += _page_problems(competition, files)
    task_problems, task_indexes = _task_problems(competition, files)
    found += task_problems
    found += _phase_problems(competition, task_indexes)
    found += _leaderboard_problems(competition)
    return found


def program_problems(name: str, metadata) -> list[str]:
    """What the compute worker needs of a program folder's parsed ``metadata.yaml``."""
    if not isinstance(metadata, Mapping) or not _text(metadata.get("command")):
        return [f"{name}/metadata.yaml: needs a command"]
    return []
