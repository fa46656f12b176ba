#!/usr/bin/python3
"""Validates STIX 2.1 objects against the OASIS JSON schemas, object by object.

Usage: validate_stix.py [--tlp2 TLP2_SCHEMA] SCHEMAS_DIR FILE...

SCHEMAS_DIR is the `schemas/` folder of oasis-open/cti-stix2-json-schemas
(draft 2020-12; every file has an `$id` under
http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/
and refers to the others by relative `$ref`). Every schema is loaded into an
offline registry keyed by its `$id`; a `$ref` that does not resolve in the
registry is an error, never a network fetch.

Each FILE holds a bundle or a single object. Each object is validated against
the schema of its type: sdos/<type>.json, sros/<type>.json,
observables/<type>.json, or common/<type>.json (marking-definition,
extension-definition, language-content); a marking-definition also against
the TLP 2.0 schema (oasis-open/cti-stix-common-objects,
extension-definition-specifications/tlp-2.0/marking-definition.json; by
default SCHEMAS_DIR/../../tlp2/marking-definition.json): one carrying the TLP
2.0 extension must be exactly one of the five official objects. An object of a
type with no schema is refused. A bundle's own properties are checked against
common/bundle.json (its objects one by one, as above).

Prints every error (file, object index, type and id, JSON path, message) and
exits 1 when there is any, 2 on a usage or schema-set problem, 0 otherwise.
Works with jsonschema 4.10 (Debian 12's python3-jsonschema), through its
RefResolver, and with jsonschema 4.18 and later through `referencing`, the
registry API that replaced RefResolver (still there, deprecated, but it no
longer resolves some in-document refs of these schemas, e.g.
"#/definitions/extension-type-enum" of common/extension-definition.json).
"""

import argparse
import importlib.metadata
import json
import pathlib
import sys
import urllib.parse

import jsonschema

try:  # jsonschema >= 4.18
    import referencing
    import referencing.exceptions
    import referencing.jsonschema

    RESOLUTION_ERRORS = (referencing.exceptions.Unresolvable,)
except ImportError:  # jsonschema 4.10 (Debian 12)
    referencing = None
    RESOLUTION_ERRORS = (jsonschema.RefResolutionError,)

SCHEMA_DIRS = ("sdos", "sros", "observables", "common")
COMMON_TYPES = ("marking-definition", "extension-definition", "language-content")
HTTP_PREFIX = "http://raw.githubusercontent.com/"
HTTPS_PREFIX = "https://raw.githubusercontent.com/"


def no_network(uri):
    raise jsonschema.RefResolutionError(f"not in the offline registry: {uri}")


def no_retrieval(uri):
    raise referencing.exceptions.NoSuchResource(ref=uri)


def refs_of(node):
    """Every "$ref" string in a schema document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_of(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs_of(item)


class Registry:
    def __init__(self, schemas_dir, tlp2_path):
        self.store = {}  # $id → schema
        self.by_type = {}  # STIX type → [(name, schema)]
        self.problems = []
        self._registry = None  # referencing.Registry, built once when used
        for path in sorted(pathlib.Path(schemas_dir).rglob("*.json")):
            schema = self._load(path)
            if schema is None:
                continue
            relative = path.relative_to(schemas_dir)
            folder, name = relative.parts[0], path.stem
            if folder in ("sdos", "sros", "observables") or (
                folder == "common" and name in COMMON_TYPES
            ):
                self.by_type.setdefault(name, []).append((str(relative), schema))
        if not self.store:
            self.problems.append(f"{schemas_dir}: no schema with an $id")
        tlp2 = self._load(pathlib.Path(tlp2_path)) if tlp2_path else None
        if tlp2 is not None:
            self.by_type.setdefault("marking-definition", []).append(("tlp2:" + str(tlp2_path), tlp2))
        self._check_refs()

    def _load(self, path):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            self.problems.append(f"{path}: {error}")
            return None
        schema_id = schema.get("$id") if isinstance(schema, dict) else None
        if not schema_id:
            self.problems.append(f"{path}: no $id")
            return None
        if schema_id in self.store:
            self.problems.append(f"{path}: $id {schema_id} already loaded")
            return None
        self.store[schema_id] = schema
        # The TLP 2.0 schema refers to extension.json by https:// while the
        # STIX schemas' $ids are http://: the same files on the same host.
        if schema_id.startswith(HTTP_PREFIX):
            self.store.setdefault(HTTPS_PREFIX + schema_id[len(HTTP_PREFIX):], schema)
        return schema

    def _check_refs(self):
        """Each $ref, resolved against the $id of its document, must be in the registry."""
        for schema_id, schema in list(self.store.items()):
            if schema_id.startswith(HTTPS_PREFIX):
                continue  # an alias of an http:// one, checked there
            for ref in refs_of(schema):
                target = urllib.parse.urldefrag(urllib.parse.urljoin(schema_id, ref)).url
                if target and target not in self.store:
                    self.problems.append(f"{schema_id}: $ref {ref} → {target}: not in the registry")

    def validator(self, schema):
        """A validator of `schema`'s draft whose $refs resolve in the registry only."""
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        checker = getattr(cls, "FORMAT_CHECKER", None) or jsonschema.FormatChecker()
        if referencing is not None:
            if self._registry is None:
                resources = [
                    (uri, referencing.jsonschema.specification_with(
                        document.get("$schema", "https://json-schema.org/draft/2020-12/schema")
                    ).create_resource(document))
                    for uri, document in self.store.items()
                ]
                self._registry = referencing.Registry(retrieve=no_retrieval).with_resources(resources)
            return cls(schema, registry=self._registry, format_checker=checker)
        resolver = jsonschema.RefResolver(
            base_uri=schema["$id"],
            referrer=schema,
            store=self.store,
            handlers={"http": no_network, "https": no_network},
        )
        return cls(schema, resolver=resolver, format_checker=checker)

    def validators(self, stix_type):
        return [(name, self.validator(schema)) for name, schema in self.by_type.get(stix_type, [])]

    def schema(self, relative):
        prefix = HTTP_PREFIX + "oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"
        return self.store.get(prefix + relative)


def path_of(error):
    return "/" + "/".join(str(part) for part in error.absolute_path)


def validate_object(registry, cache, label, stix_object):
    """The errors of one object, as printable lines."""
    if not isinstance(stix_object, dict):
        return [f"{label}: not a JSON object"]
    stix_type = stix_object.get("type")
    label = f"{label} ({stix_type} {stix_object.get('id', '<no id>')})"
    if not isinstance(stix_type, str):
        return [f"{label}: no type"]
    if stix_type not in cache:
        cache[stix_type] = registry.validators(stix_type)
    if not cache[stix_type]:
        return [f"{label}: no schema for type {stix_type!r}"]
    lines = []
    for name, validator in cache[stix_type]:
        try:
            errors = sorted(validator.iter_errors(stix_object), key=lambda e: list(e.absolute_path))
            for error in errors:
                lines.append(f"{label}: {name}: {path_of(error)}: {error.message}")
                for sub in sorted(error.context or [], key=lambda e: list(e.absolute_path))[:10]:
                    lines.append(f"    {path_of(sub)}: {sub.message}")
        except RESOLUTION_ERRORS as error:
            lines.append(f"{label}: {name}: unresolved $ref: {error}")
    return lines


def validate_file(registry, cache, path):
    """(objects checked, error lines) of one file."""
    try:
        document = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return 0, [f"{path}: {error}"]
    if not isinstance(document, dict):
        return 0, [f"{path}: neither a bundle nor a STIX object"]
    if document.get("type") != "bundle":
        return 1, validate_object(registry, cache, f"{path}", document)
    lines = []
    envelope = {key: value for key, value in document.items() if key != "objects"}
    bundle_schema = registry.schema("common/bundle.json")
    if bundle_schema is None:
        lines.append(f"{path}: no common/bundle.json in the registry")
    else:
        for error in registry.validator(bundle_schema).iter_errors(envelope):
            lines.append(f"{path}: bundle: {path_of(error)}: {error.message}")
    objects = document.get("objects", [])
    if not isinstance(objects, list):
        return 0, lines + [f"{path}: bundle objects is not an array"]
    for index, stix_object in enumerate(objects):
        lines += validate_object(registry, cache, f"{path}: object {index}", stix_object)
    return len(objects), lines


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tlp2", help="the TLP 2.0 marking-definition schema")
    parser.add_argument("schemas_dir")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)

    schemas_dir = pathlib.Path(args.schemas_dir)
    tlp2 = pathlib.Path(args.tlp2) if args.tlp2 else schemas_dir / ".." / ".." / "tlp2" / "marking-definition.json"
    if not schemas_dir.is_dir():
        print(f"{schemas_dir}: not a directory", file=sys.stderr)
        return 2
    if not tlp2.is_file():
        print(f"{tlp2}: no TLP 2.0 schema (--tlp2)", file=sys.stderr)
        return 2
    registry = Registry(schemas_dir, tlp2)
    if registry.problems:
        for problem in registry.problems:
            print(problem, file=sys.stderr)
        return 2

    cache = {}
    checked, failures = 0, []
    for path in args.files:
        count, lines = validate_file(registry, cache, path)
        checked += count
        failures += lines
    for line in failures:
        print(line)
    if failures:
        print(f"{len(failures)} error(s) in {checked} object(s) of {len(args.files)} file(s)")
        return 1
    print(f"{checked} object(s) of {len(args.files)} file(s) valid "
          f"(jsonschema {importlib.metadata.version('jsonschema')}, {len(registry.store)} schema ids)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
