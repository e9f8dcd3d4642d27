"""Store locations: a path or URL -> (kind, resolved URL, file); passwords masked for messages."""
from __future__ import annotations

import difflib
import os
import pathlib
import re
from typing import Any, Optional

from ._errors import SweepsValueError

DEFAULT_FOLDER = "runs"
DEFAULT_FILE = "sweeps.log"
JOURNAL_SUFFIXES = (".log", ".jsonl", ".journal")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
RDB_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(\+[A-Za-z0-9_]+)?://")
_ACCEPTED = (
    "None (the default journal file ./runs/sweeps.log); a journal file path ending in "
    f"{'/'.join(JOURNAL_SUFFIXES)} or 'journal:///path/to/file.log'; a SQLite file path ending "
    f"in {'/'.join(SQLITE_SUFFIXES)} or 'sqlite:///path/to/file.db'; or a database URL such as "
    "'postgresql://user:password@host/db' or 'mysql+pymysql://user:password@host/db'"
)


def resolve_url(url: Any) -> tuple[str, str, Optional[pathlib.Path]]:
    """``url`` -> (kind, resolved url, file path); kind is 'journal' or 'rdb'.

    Relative paths are resolved against the current directory now, so a later ``chdir`` does not
    move the store. Nothing is opened.
    """
    if url is None:
        path = pathlib.Path.cwd() / DEFAULT_FOLDER / DEFAULT_FILE
        return "journal", str(path), path
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url.strip():
        raise _bad_url(url)
    match = _SCHEME.match(url)
    if match:
        dialect = match.group(1).lower()
        rest = url[match.end():]
        if dialect == "journal" and rest:
            path = pathlib.Path(rest).expanduser().absolute()
            return "journal", str(path), path
        if dialect == "sqlite" and url.lower().startswith("sqlite:///"):
            rest = url[len("sqlite:///"):]
            if rest in ("", ":memory:"):
                return "rdb", "sqlite:///:memory:", None
            path = pathlib.Path(rest).expanduser().absolute()
            return "rdb", f"{url[:len('sqlite:///')]}{path}", path
        if dialect in RDB_DIALECTS and dialect != "sqlite" and rest:
            return "rdb", url, None
        hint = ""
        if dialect == "postgres":
            hint = " Did you mean 'postgresql://...'?"
        elif dialect == "sqlite":
            hint = (" A SQLite URL has three slashes: 'sqlite:///relative.db' or "
                    "'sqlite:////abs.db'.")
        raise _bad_url(url, hint)
    suffix = pathlib.PurePath(url).suffix.lower()
    # 'sqlit:/x.db' is a mistyped URL, not a file; 'C:\\x.db' (one letter) is a Windows path.
    mistyped_scheme = re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", url) is not None
    if not mistyped_scheme and suffix in JOURNAL_SUFFIXES + SQLITE_SUFFIXES:
        path = pathlib.Path(url).expanduser().absolute()
        if suffix in JOURNAL_SUFFIXES:
            return "journal", str(path), path
        return "rdb", f"sqlite:///{path}", path
    close = difflib.get_close_matches(url.split(":")[0].lower(), RDB_DIALECTS + ("journal",), n=1)
    hint = f" Did you mean '{close[0]}://...'?" if close and ":" in url else ""
    raise _bad_url(url, hint)


def _bad_url(url: Any, hint: str = "") -> SweepsValueError:
    shown = redacted(url) if isinstance(url, str) else url
    return SweepsValueError(f"store={shown!r} is not a store location.{hint} Expected {_ACCEPTED}.")


def redacted(url: str) -> str:
    """The URL without its password, for messages: ``postgresql://u:***@host/db``."""
    return re.sub(r"(://[^:/@]+:)[^/]*@", r"\1***@", url)


def printable(text: Any) -> str:
    """``text`` with control characters escaped: a name read from a store prints as one line
    and cannot move the cursor or fake output."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
