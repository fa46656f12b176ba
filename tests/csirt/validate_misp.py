#!/usr/bin/python3
"""Validates MISP event JSON files against a MISP event JSON Schema (draft-04).

Usage: validate_misp.py SCHEMA FILE...

Prints one line per error (file, JSON path, message) and exits 1 when any
file fails, 2 on a usage or read error, 0 when every file is valid. Run with
Debian's /usr/bin/python3 and its python3-jsonschema (4.10 on Debian 12):
misp_export_test.cpp calls it on the exports and on a broken event.
"""
import json
import sys

import jsonschema


def main(argv):
    if len(argv) < 3:
        print("usage: validate_misp.py SCHEMA FILE...", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        jsonschema.Draft4Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft4Validator(schema)
    failed = False
    for path in argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                document = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 2
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in error.path)
            print(f"{path}: /{where}: {error.message}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
