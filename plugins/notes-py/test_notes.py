"""notes-py in-process: tenants see only their own notes, whatever the arguments."""
import atexit
import os
import shutil
import tempfile
import unittest

os.environ["MCPHOST_PLUGIN_DATA_DIR"] = tempfile.mkdtemp(prefix="notes-py-test-")
atexit.register(shutil.rmtree, os.environ["MCPHOST_PLUGIN_DATA_DIR"], True)

import notes  # noqa: E402
from mcphost_sdk import Caller  # noqa: E402

ALICE = Caller(user_id="alice", organization_id="org_a", roles=("member",))
ADMIN_A = Caller(user_id="ann", organization_id="org_a", roles=("admin",))
ADMIN_B = Caller(user_id="bo", organization_id="org_b", roles=("admin",))


def call(tool, args, caller):
    res, _ = notes.plugin.call(tool, args, caller)
    return res


class Notes(unittest.TestCase):
    def test_tenants_and_roles(self):
        nid = call("add-note", {"title": "a's plan", "body": "100% done_ish"}, ALICE).structured["id"]
        call("add-note", {"title": "b's plan"}, ADMIN_B)
        titles = [n["title"] for n in call("list-notes", {}, ADMIN_A).structured["notes"]]
        self.assertIn("a's plan", titles)
        self.assertNotIn("b's plan", titles)
        # LIKE wildcards in the query are literal.
        self.assertEqual(call("list-notes", {"query": "100%"}, ALICE).structured["count"], 1)
        self.assertEqual(call("list-notes", {"query": "%"}, ADMIN_B).structured["count"], 0)
        self.assertEqual(call("list-notes", {"query": "e_i"}, ALICE).structured["count"], 1)
        self.assertEqual(call("list-notes", {"query": "e_x"}, ALICE).structured["count"], 0)

        self.assertIn("only an admin", call("delete-note", {"id": nid}, ALICE).text())
        self.assertIn("no note", call("delete-note", {"id": nid}, ADMIN_B).text())
        self.assertEqual(call("delete-note", {"id": nid}, ADMIN_A).text(), f"deleted note {nid}")

    def test_import_is_all_or_none(self):
        org = Caller(user_id="imp", organization_id="org_import")
        res, events = notes.plugin.call("import-notes", {"notes": [{"title": f"n{i}"} for i in range(250)]}, org,
                                        progress=True)
        self.assertEqual(res.structured, {"imported": 250}, res)
        self.assertEqual([e.progress.message for e in events if e.WhichOneof("output") == "progress"],
                         ["imported 100 of 250", "imported 200 of 250", "imported 250 of 250"])
        res = call("import-notes", {"notes": [{"title": "ok"}, {"title": " "}]}, org)
        self.assertEqual(res.text(), "import-notes: notes[1].title must not be empty")
        self.assertIn("notes[1].priority must be one of",
                      call("import-notes", {"notes": [{"title": "a"}, {"title": "b", "priority": "x"}]}, org).text())
        self.assertEqual(call("list-notes", {"limit": 200}, org).structured["count"], 200)
        self.assertEqual(call("list-notes", {"query": "ok"}, org).structured["count"], 0)

    def test_needs_an_organization(self):
        res = call("list-notes", {}, Caller(user_id="x"))
        self.assertTrue(res.is_error)
        self.assertIn("per organization", res.text())

    def test_bad_arguments(self):
        self.assertIn("title is longer than 200", call("add-note", {"title": "x" * 201}, ALICE).text())
        self.assertIn("body is larger than 64 KiB", call("add-note", {"title": "t", "body": "x" * 70000}, ALICE).text())
        self.assertIn("limit must be between", call("list-notes", {"limit": 0}, ALICE).text())
        self.assertIn("priority must be one of", call("add-note", {"title": "t", "priority": "x"}, ALICE).text())


if __name__ == "__main__":
    unittest.main()
