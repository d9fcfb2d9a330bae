"""JSON Schema from Python type hints, and the argument check that goes with it.

A tool's input schema is built from its handler's parameters: int, float, str,
bool, list[T], dict[str, T], Optional[T], Literal[...], dataclasses and
TypedDicts (nested as objects). Parameters with defaults are optional. The
same schema checks the arguments before the handler runs, so a handler gets
the types it declared, and a client that sent something else is told which
argument is wrong. Only the keywords the generator emits are checked; an
explicit schema may use more, which the host's clients see but this check
ignores.
"""

import dataclasses
import inspect
import sys
import types
import typing

_NoneType = type(None)


class SchemaError(TypeError):
    """A type hint that has no JSON Schema form here."""


def schema_for_function(fn, skip=("req",)):
    """The input schema of a handler: an object of its parameters after `skip`."""
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn, include_extras=True)
    props, required = {}, []
    for name, param in sig.parameters.items():
        if name in skip:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise SchemaError(f"parameter {name}: *args and **kwargs have no schema; name each argument")
        if name not in hints:
            raise SchemaError(f"parameter {name} has no type hint; annotate it (for example {name}: str)")
        try:
            props[name] = schema_for_type(hints[name])
        except SchemaError as e:
            raise SchemaError(f"parameter {name}: {e}") from None
        if param.default is inspect.Parameter.empty and not _is_optional(hints[name]):
            required.append(name)
        elif param.default is not inspect.Parameter.empty and param.default is not None and _json_literal(param.default):
            props[name]["default"] = param.default
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def schema_for_type(tp):
    """The JSON Schema of one type hint."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        schema = schema_for_type(args[0])
        for extra in args[1:]:
            if isinstance(extra, str):  # Annotated[str, "what it is"] describes it
                schema["description"] = extra
            elif isinstance(extra, dict):
                schema.update(extra)
        return schema
    if tp is typing.Any:
        return {}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp is list or origin is list or origin is typing.Sequence:
        return {"type": "array", "items": schema_for_type(args[0])} if args else {"type": "array"}
    if tp is dict or origin is dict:
        if args and args[0] is not str:
            raise SchemaError("dict keys must be str (JSON object keys are strings)")
        return {"type": "object", "additionalProperties": schema_for_type(args[1])} if args else {"type": "object"}
    if origin is typing.Literal:
        values = list(args)
        if not all(_json_literal(v) for v in values):
            raise SchemaError("Literal values must be str, int, float, bool or None")
        kinds = {_json_kind(v) for v in values}
        if len(kinds) == 1 and None not in values:  # clients that need a type get one
            return {"type": _KIND_NAMES[kinds.pop()], "enum": values}
        return {"enum": values}
    if origin is typing.Union or (sys.version_info >= (3, 10) and isinstance(tp, types.UnionType)):
        rest = [a for a in args if a is not _NoneType]
        if len(rest) == 1:  # Optional[T]: T or null
            inner = schema_for_type(rest[0])
            return {"anyOf": [inner, {"type": "null"}]}
        return {"anyOf": [schema_for_type(a) for a in args]}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _object_schema(tp, {f.name: f for f in dataclasses.fields(tp)})
    if _is_typeddict(tp):
        return _object_schema(tp, None)
    raise SchemaError(f"type {getattr(tp, '__name__', tp)!r} has no JSON Schema; use int, float, str, bool, "
                      "list, dict, Optional, Literal, a dataclass or a TypedDict, or give the tool a schema")


def _object_schema(tp, dc_fields):
    hints = typing.get_type_hints(tp, include_extras=True)
    props, required = {}, []
    for name, hint in hints.items():
        try:
            props[name] = schema_for_type(hint)
        except SchemaError as e:
            raise SchemaError(f"{tp.__name__}.{name}: {e}") from None
        if dc_fields is not None:
            f = dc_fields.get(name)
            if f is None:
                continue
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if not has_default and not _is_optional(hint):
                required.append(name)
        elif name in getattr(tp, "__required_keys__", ()):
            required.append(name)
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    doc = tp.__doc__ or ""
    if doc and not doc.startswith(tp.__name__ + "("):  # dataclasses make up a signature as the doc
        schema["description"] = inspect.cleandoc(doc)
    if required:
        schema["required"] = required
    return schema


def _is_typeddict(tp):
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__annotations__") and hasattr(tp, "__total__")


def _is_optional(tp):
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    origin = typing.get_origin(tp)
    union = origin is typing.Union or (sys.version_info >= (3, 10) and isinstance(tp, types.UnionType))
    return union and _NoneType in typing.get_args(tp)


def _json_literal(v):
    return v is None or isinstance(v, (str, int, float, bool))


class ArgumentError(ValueError):
    """Arguments that do not fit the tool's schema; the message names the argument."""


def check(value, schema, path="arguments"):
    """Raises ArgumentError when value does not fit schema (the subset above)."""
    if "anyOf" in schema:
        rest = [alt for alt in schema["anyOf"] if alt != {"type": "null"}]
        if value is not None and len(rest) == 1:  # Optional[T]: say what T wants
            check(value, rest[0], path)
            return
        errors = []
        for alt in schema["anyOf"]:
            try:
                check(value, alt, path)
                return
            except ArgumentError as e:
                errors.append(str(e))
        raise ArgumentError(errors[0] if len(errors) == 1 else f"{path}: matches none of the allowed types")
    if "enum" in schema and value not in schema["enum"]:
        raise ArgumentError(f"{path} must be one of {', '.join(repr(v) for v in schema['enum'])}")
    kind = schema.get("type")
    if kind is None:
        return
    kinds = kind if isinstance(kind, list) else [kind]
    if not any(_is_kind(value, k) for k in kinds):
        raise ArgumentError(f"{path} must be {' or '.join(_article(k) for k in kinds)}, not {_json_kind(value)}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise ArgumentError(f"{_join(path, name)} is required")
        extra = schema.get("additionalProperties", True)
        for name, v in value.items():
            if name in props:
                check(v, props[name], _join(path, name))
            elif extra is False:
                known = ", ".join(sorted(props)) or "none"
                raise ArgumentError(f"{_join(path, name)} is not a known argument (known: {known})")
            elif isinstance(extra, dict):
                check(v, extra, _join(path, name))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            check(v, schema["items"], f"{path}[{i}]")


def _join(path, name):
    return name if path == "arguments" else f"{path}.{name}"


def _is_kind(v, k):
    if k == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    if k == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, _PY_TYPES.get(k, object))


_KIND_NAMES = {"a string": "string", "an integer": "integer", "a number": "number", "a boolean": "boolean"}
_PY_TYPES = {"string": str, "boolean": bool, "array": list, "object": dict, "null": _NoneType}


def _json_kind(v):
    for k in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_kind(v, k):
            return _article(k)
    return type(v).__name__


def _article(k):
    return {"integer": "an integer", "array": "an array", "object": "an object", "null": "null"}.get(k, "a " + k)


def convert(value, tp):
    """Turns checked JSON into the declared type: dataclasses from objects,
    ints from integral floats, recursively through lists and Optionals."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return convert(value, args[0])
    if value is None:
        return None
    if tp is int and isinstance(value, float):
        return int(value)
    if tp is float and isinstance(value, int):
        return float(value)
    if (origin is list or origin is typing.Sequence) and args:
        return [convert(v, args[0]) for v in value]
    if origin is dict and args:
        return {k: convert(v, args[1]) for k, v in value.items()}
    if origin is typing.Union or (sys.version_info >= (3, 10) and isinstance(tp, types.UnionType)):
        rest = [a for a in args if a is not _NoneType]
        if len(rest) == 1:
            return convert(value, rest[0])
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        return tp(**{k: convert(v, hints[k]) for k, v in value.items()})
    if _is_typeddict(tp):
        hints = typing.get_type_hints(tp)
        return {k: convert(v, hints[k]) if k in hints else v for k, v in value.items()}
    return value
