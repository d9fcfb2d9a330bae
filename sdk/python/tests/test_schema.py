import dataclasses
import typing
import unittest
from typing import Annotated, Literal, Optional, TypedDict

from mcphost_sdk import schema


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0
    label: Optional[str] = None


class Filter(TypedDict, total=False):
    tag: str
    limit: int


class SchemaFromHints(unittest.TestCase):
    def test_scalars_defaults_and_required(self):
        def f(req, name: str, count: int, ratio: float = 0.5, on: bool = False):
            pass

        self.assertEqual(schema.schema_for_function(f), {
            "type": "object",
            "properties": {
                "name": {"type": "string"}, "count": {"type": "integer"},
                "ratio": {"type": "number", "default": 0.5}, "on": {"type": "boolean", "default": False},
            },
            "additionalProperties": False,
            "required": ["name", "count"],
        })

    def test_containers_literal_optional_annotated(self):
        def f(tags: list[str], level: Literal["a", "b"], note: Annotated[Optional[str], "a note"] = None,
              extra: dict[str, int] = None):
            pass

        s = schema.schema_for_function(f)
        self.assertEqual(s["properties"]["tags"], {"type": "array", "items": {"type": "string"}})
        self.assertEqual(s["properties"]["level"], {"type": "string", "enum": ["a", "b"]})
        self.assertEqual(schema.schema_for_type(Literal[1, "a"]), {"enum": [1, "a"]})
        self.assertEqual(schema.schema_for_type(Literal[1, 2]), {"type": "integer", "enum": [1, 2]})
        self.assertEqual(s["properties"]["note"], {"anyOf": [{"type": "string"}, {"type": "null"}],
                                                   "description": "a note"})
        self.assertEqual(s["properties"]["extra"]["additionalProperties"], {"type": "integer"})
        self.assertEqual(s["required"], ["tags", "level"])

    def test_dataclass_and_typeddict(self):
        p = schema.schema_for_type(Point)
        self.assertEqual(p["required"], ["x"])
        self.assertEqual(set(p["properties"]), {"x", "y", "label"})
        self.assertNotIn("description", p)  # dataclasses' made-up doc is not a description
        f = schema.schema_for_type(Filter)
        self.assertEqual(f["properties"], {"tag": {"type": "string"}, "limit": {"type": "integer"}})
        self.assertNotIn("required", f)

    def test_unsupported_hints_name_the_parameter(self):
        def no_hint(req, x):
            pass

        def bad_type(req, when: complex):
            pass

        def var_args(req, *rest: int):
            pass

        for fn, want in ((no_hint, "parameter x has no type hint"), (bad_type, "parameter when: type 'complex'"),
                         (var_args, "parameter rest: *args")):
            with self.assertRaises(schema.SchemaError) as cm:
                schema.schema_for_function(fn)
            self.assertIn(want, str(cm.exception))


class ArgumentCheck(unittest.TestCase):
    S = {"type": "object", "properties": {
        "n": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
        "p": schema.schema_for_type(Point), "mode": {"enum": ["a", "b"]},
        "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    }, "required": ["n"], "additionalProperties": False}

    def test_good(self):
        schema.check({"n": 1, "tags": ["a"], "p": {"x": 2}, "mode": "a", "maybe": None}, self.S)
        schema.check({"n": 2.0}, self.S)  # JSON has no integer type: 2.0 is an integer

    def test_errors_name_the_argument(self):
        for args, want in (
            ({}, "n is required"),
            ({"n": "1"}, "n must be an integer, not a string"),
            ({"n": True}, "n must be an integer, not a boolean"),
            ({"n": 1, "tags": ["a", 2]}, "tags[1] must be a string"),
            ({"n": 1, "p": {}}, "p.x is required"),
            ({"n": 1, "p": {"x": 1, "z": 0}}, "p.z is not a known argument"),
            ({"n": 1, "mode": "c"}, "mode must be one of 'a', 'b'"),
            ({"n": 1, "maybe": 3}, "maybe must be a string"),
            ({"n": 1, "zzz": 3}, "zzz is not a known argument (known: maybe, mode, n, p, tags)"),
        ):
            with self.assertRaises(schema.ArgumentError, msg=args) as cm:
                schema.check(args, self.S)
            self.assertIn(want, str(cm.exception))

    def test_convert(self):
        self.assertEqual(schema.convert({"x": 1.0}, Point), Point(x=1))
        self.assertEqual(schema.convert([{"x": 1}], list[Point]), [Point(x=1)])
        self.assertEqual(schema.convert(3, Optional[float]), 3.0)
        self.assertIsNone(schema.convert(None, Optional[Point]))


if __name__ == "__main__":
    unittest.main()
