#!/usr/bin/python3
"""notes-py: tenant-scoped notes, the Python example plugin.

Each organization has its own notes: every query is filtered by the verified
caller's organization (never by an argument), and deleting a note takes the
admin role. Notes live in SQLite in the plugin's data directory.

The #! line names the interpreter by absolute path because the host starts
plugins with an empty environment (no PATH); mcphost.yaml points at this file.
"""

import dataclasses
import os
import sqlite3
import sys
import threading
import time
from typing import Annotated, Literal, Optional

try:
    import mcphost_sdk  # noqa: F401
except ModuleNotFoundError as e:  # not on PYTHONPATH: use the SDK beside it in the repository
    if e.name != "mcphost_sdk":
        raise
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "sdk", "python"))

from mcphost_sdk import Plugin, ToolError, object, text

VERSION = "1.0.0"
plugin = Plugin("notes-py", VERSION)


class Store:
    """Notes in SQLite; one connection per thread, since calls run in parallel."""

    def __init__(self, path):
        self.path = path
        self.local = threading.local()
        with self.db() as db:
            db.executescript("""
                CREATE TABLE IF NOT EXISTS notes (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    org TEXT NOT NULL,
                    author TEXT NOT NULL,
                    title TEXT NOT NULL,
                    body TEXT NOT NULL,
                    priority TEXT NOT NULL DEFAULT 'normal',
                    created REAL NOT NULL
                );
                CREATE INDEX IF NOT EXISTS notes_org ON notes (org, id);
            """)

    def db(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")  # readers and the old instance during a swap don't block writers
            conn.row_factory = sqlite3.Row
            self.local.conn = conn
        return conn

    def add(self, org, author, title, body, priority):
        cur = self.db().execute(
            "INSERT INTO notes (org, author, title, body, priority, created) VALUES (?, ?, ?, ?, ?, ?)",
            (org, author, title, body, priority, time.time()))
        return cur.lastrowid

    def add_many(self, org, author, notes, progress):
        """Adds notes in one transaction (all or none), calling progress(done)
        after each batch."""
        db = self.db()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(notes), IMPORT_BATCH):
                batch = notes[start:start + IMPORT_BATCH]
                db.executemany(
                    "INSERT INTO notes (org, author, title, body, priority, created) VALUES (?, ?, ?, ?, ?, ?)",
                    [(org, author, n.title.strip(), n.body, n.priority, now) for n in batch])
                progress(start + len(batch))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def list(self, org, query, limit):
        sql, params = "SELECT id, author, title, body, priority FROM notes WHERE org = ?", [org]
        if query:
            sql += " AND (title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')"
            like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params += [like, like]
        sql += " ORDER BY id DESC LIMIT ?"
        return [dict(r) for r in self.db().execute(sql, params + [limit])]

    def delete(self, org, note_id):
        return self.db().execute("DELETE FROM notes WHERE org = ? AND id = ?", (org, note_id)).rowcount > 0


IMPORT_BATCH = 100
MAX_IMPORT = 1000
MAX_TITLE = 200
MAX_BODY = 64 * 1024

_store = None
_store_lock = threading.Lock()


def store():
    """The store, opened by the first call (the data directory comes from the host)."""
    global _store
    with _store_lock:
        if _store is None:
            data = os.environ.get("MCPHOST_PLUGIN_DATA_DIR") or "."
            _store = Store(os.path.join(data, "notes.sqlite"))
        return _store


def check_note(where, title, body):
    if not title.strip():
        raise ToolError(f"{where}title must not be empty")
    if len(title) > MAX_TITLE:
        raise ToolError(f"{where}title is longer than {MAX_TITLE} characters")
    if len(body.encode()) > MAX_BODY:
        raise ToolError(f"{where}body is larger than {MAX_BODY // 1024} KiB")


def tenant(req):
    """The caller's organization; notes without one would belong to no tenant."""
    org = req.caller.organization_id
    if not org:
        raise ToolError("notes are kept per organization: sign in with an organization to use them")
    return org


@plugin.tool(idempotent=False)
def add_note(req, title: Annotated[str, "A short title"], body: Annotated[str, "The note itself"] = "",
             priority: Literal["low", "normal", "high"] = "normal"):
    """Adds a note for your organization."""
    check_note("add-note: ", title, body)
    note_id = store().add(tenant(req), req.caller.user_id, title.strip(), body, priority)
    req.log("info", {"event": "note added", "id": note_id})
    return object({"id": note_id, "title": title.strip(), "priority": priority},
                  text=f"added note {note_id}: {title.strip()}")


@dataclasses.dataclass
class NewNote:
    """One note to import."""
    title: str
    body: str = ""
    priority: Literal["low", "normal", "high"] = "normal"


@plugin.tool(idempotent=False)
def import_notes(req, notes: Annotated[list[NewNote], "The notes to add, at most 1000"]):
    """Adds many notes for your organization at once (all or none), reporting progress."""
    org = tenant(req)
    if not 1 <= len(notes) <= MAX_IMPORT:
        raise ToolError(f"import-notes: give between 1 and {MAX_IMPORT} notes")
    for i, n in enumerate(notes):
        check_note(f"import-notes: notes[{i}].", n.title, n.body)
    store().add_many(org, req.caller.user_id, notes,
                     lambda done: req.progress(done, len(notes), f"imported {done} of {len(notes)}"))
    req.log("info", {"event": "notes imported", "count": len(notes)})
    return object({"imported": len(notes)}, text=f"imported {len(notes)} notes")


@plugin.tool(read_only=True)
def list_notes(req, query: Annotated[Optional[str], "Only notes whose title or body contains this"] = None,
               limit: Annotated[int, "At most this many, newest first"] = 20):
    """Lists your organization's notes, newest first."""
    if not 1 <= limit <= 200:
        raise ToolError("list-notes: limit must be between 1 and 200")
    notes = store().list(tenant(req), query, limit)
    return object({"notes": notes, "count": len(notes)})


@plugin.tool(destructive=True)
def delete_note(req, id: Annotated[int, "The note's id"]):
    """Deletes one of your organization's notes (admins only)."""
    org = tenant(req)
    if not req.caller.has_role("admin"):
        raise ToolError("delete-note: only an admin of the organization may delete notes")
    if not store().delete(org, id):
        # Another tenant's note looks exactly like a missing one.
        raise ToolError(f"delete-note: no note {id}")
    return text(f"deleted note {id}")


if __name__ == "__main__":
    plugin.serve()
