#!/usr/bin/env python3
"""Regenerates policyrun's built-in Kubernetes schema bundles, one per release the source
carries (1.25 to 1.37): schemas/kubernetes-<X.Y>.json.zlib, compact JSON compressed with
zlib, which src/schema/bundle.rs compiles in and inflates when a run uses the release.

Sources, both fetched from the package registries this project may use:

- the `-local-strict` JSON schemas in PyPI's `kubernetes-validate` package (Apache-2.0,
  https://github.com/willthames/kubernetes-validate): its `_definitions.json` holds every type
  of one Kubernetes release, with `additionalProperties: false` and the
  `x-kubernetes-group-version-kind` of each top-level kind;
- which kinds are namespaced, from the `k8s-openapi` crate's generated `impl Resource` blocks
  (`type Scope = NamespaceResourceScope | ClusterResourceScope`) for the same release,
  keyed by group and kind (a kind keeps its scope across versions); each release from the
  newest crate release that has its module (K8S_OPENAPI).

Descriptions and patch-strategy annotations are dropped where they annotate a schema (they
are most of the size and no validation reads them); fields of those names (PriorityClass's
`description`, a CRD schema's `description` and `x-kubernetes-*`) and everything else are
kept as published, and the script refuses to write a bundle that lost any (`--self-test`
runs the stripping's unit tests). It also checks that each kind's own file in the wheel is
its definition made top-level by the rule policyrun applies (`top_level`).

Usage:
    python3 scripts/update-schemas.py                       # every release the wheel carries
    python3 scripts/update-schemas.py --kubernetes 1.36     # one release (a new one: list it in
                                                            # BUILTIN_BUNDLES in src/schema/bundle.rs)
    python3 scripts/update-schemas.py --plain DIR           # uncompressed, indented, to read or diff
    python3 scripts/update-schemas.py --extract DIR --kubernetes 1.23,1.24
        # unpack the full `vX.Y.0-local-strict` directories into DIR instead, for
        # `schema_dir` / `--schema-dir` (releases not built in)
    python3 scripts/update-schemas.py --self-test           # unit tests of the stripping

Needs pip and cargo on PATH (cargo only fetches the k8s-openapi source).
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
import zlib

KUBERNETES_VALIDATE = "1.37.0"  # the package release; it carries schemas for 1.25 to 1.37
# The newest k8s-openapi release offering the `v1_<minor>` module of each Kubernetes release
# (each crate release covers about five); only its source is fetched, for the scopes.
K8S_OPENAPI = {
    "1.25": "0.22.0",
    "1.26": "0.23.0", "1.27": "0.23.0",
    "1.28": "0.24.0", "1.29": "0.24.0", "1.30": "0.24.0", "1.31": "0.24.0", "1.32": "0.24.0",
    "1.33": "0.29.0", "1.34": "0.29.0", "1.35": "0.29.0", "1.36": "0.29.0", "1.37": "0.29.0",
}
DROPPED_KEYS = {"description", "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key"}


def fetch_wheel(workdir):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         f"kubernetes-validate=={KUBERNETES_VALIDATE}", "-d", workdir],
        check=True,
    )
    (wheel,) = glob.glob(os.path.join(workdir, "kubernetes_validate-*.whl"))
    return zipfile.ZipFile(wheel)


def schema_dir_name(minor):
    return f"v{minor}.0-local-strict"


def read_definitions(wheel, minor):
    name = f"kubernetes_validate/kubernetes-json-schema/{schema_dir_name(minor)}/_definitions.json"
    try:
        return json.loads(wheel.read(name))
    except KeyError:
        sys.exit(f"kubernetes-validate {KUBERNETES_VALIDATE} has no schemas for Kubernetes {minor}")


# Where a JSON Schema holds schemas, by keyword: one schema, a list of them, or a map of
# names to schemas. Everything under any other keyword (`enum`, `default`, `required`,
# `x-kubernetes-group-version-kind`, `x-kubernetes-unions`, ...) is data and kept as it is.
ONE_SCHEMA = {"items", "additionalProperties", "additionalItems", "unevaluatedItems",
              "unevaluatedProperties", "not", "if", "then", "else", "contains", "propertyNames"}
SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}


def strip(schema):
    """`schema` without the annotations in DROPPED_KEYS, wherever they annotate a schema.

    A key of a map of schemas (`properties`, `$defs`, ...) names a field or a definition,
    never an annotation: PriorityClass has a field `description`, a CRD's JSONSchemaProps
    fields named `description` and `x-kubernetes-*`. Dropping those names would make valid
    objects fail (`'description' was unexpected`).
    """
    if not isinstance(schema, dict):
        return schema  # `true`/`false` schemas
    kept = {}
    for key, value in schema.items():
        if key in DROPPED_KEYS:
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            kept[key] = {name: strip(sub) for name, sub in value.items()}
        elif key in SCHEMA_LISTS and isinstance(value, list):
            kept[key] = [strip(sub) for sub in value]
        elif key in ONE_SCHEMA and isinstance(value, list):  # draft-4 tuple `items`
            kept[key] = [strip(sub) for sub in value]
        elif key in ONE_SCHEMA:
            kept[key] = strip(value)
        else:
            kept[key] = value
    return kept


def schema_paths(schema, path=""):
    """Every place in `schema` a field name, definition or data value can be told apart by:
    the path of each key of a map of schemas, and of each data keyword with its value."""
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        here = f"{path}/{key}"
        if key in SCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                yield f"{here}/{name}"
                yield from schema_paths(sub, f"{here}/{name}")
        elif key in SCHEMA_LISTS | ONE_SCHEMA and isinstance(value, list):
            for i, sub in enumerate(value):
                yield from schema_paths(sub, f"{here}/{i}")
        elif key in ONE_SCHEMA:
            yield from schema_paths(value, here)
        elif key not in DROPPED_KEYS:
            yield f"{here}={json.dumps(value, sort_keys=True)}"


def lost_by_stripping(original, stripped):
    """What `strip` lost beyond annotations: field names, definitions, data (should be none)."""
    return sorted(set(schema_paths(original)) - set(schema_paths(stripped)))


def self_test():
    """Unit tests of the stripping, run by `--self-test` (no network)."""
    import unittest

    class Strip(unittest.TestCase):
        def test_annotations_go_fields_stay(self):
            schema = {"$defs": {"description": {"type": "string", "description": "a definition named so"},
                                "PriorityClass": {
                "description": "PriorityClass defines ...",
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "description": {"description": "the field", "type": ["string", "null"]},
                    "x-kubernetes-patch-strategy": {"type": "string"},
                    "x-kubernetes-patch-merge-key": {"type": "string"},
                    "list": {"type": "array", "items": {"description": "item", "type": "string"},
                             "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"},
                },
                "patternProperties": {"^description$": {"description": "x"}},
                "oneOf": [{"description": "one", "type": "string"}, True],
                "additionalItems": [{"description": "tuple"}],
                "enum": [{"description": "data, not an annotation"}],
                "default": {"description": "data too"},
                "x-kubernetes-unions": [{"fields-to-discriminateBy": {"description": "Description"}}],
            }}}
            stripped = strip(schema)
            pc = stripped["$defs"]["PriorityClass"]
            self.assertEqual(stripped["$defs"]["description"], {"type": "string"})
            self.assertNotIn("description", pc)
            self.assertEqual(set(pc["properties"]), {"description", "x-kubernetes-patch-strategy",
                                                     "x-kubernetes-patch-merge-key", "list"})
            self.assertEqual(pc["properties"]["description"], {"type": ["string", "null"]})
            self.assertEqual(pc["properties"]["list"], {"type": "array", "items": {"type": "string"}})
            self.assertEqual(pc["patternProperties"], {"^description$": {}})
            self.assertEqual(pc["oneOf"], [{"type": "string"}, True])
            self.assertEqual(pc["additionalItems"], [{}])
            self.assertEqual(pc["enum"], [{"description": "data, not an annotation"}])
            self.assertEqual(pc["default"], {"description": "data too"})
            self.assertEqual(pc["x-kubernetes-unions"], schema["$defs"]["PriorityClass"]["x-kubernetes-unions"])
            self.assertEqual(lost_by_stripping(schema, stripped), [])

        def test_the_old_stripping_would_be_caught(self):
            schema = {"properties": {"description": {"type": "string"}, "value": {"type": "integer"}}}
            careless = {"properties": {"value": {"type": "integer"}}}
            self.assertEqual(lost_by_stripping(schema, careless),
                             ['/properties/description', '/properties/description/type="string"'])

        def test_top_level_fields_are_nullable_the_object_is_not(self):
            definition = {"type": ["object", "null"], "required": ["value"],
                          "properties": {"value": {"type": "integer"}, "name": {"type": ["string", "null"]},
                                         "metadata": {"$ref": "#/$defs/ObjectMeta"},
                                         "items": {"type": "array", "items": {"type": "string"}}}}
            self.assertEqual(top_level(definition), {
                "type": "object", "required": ["value"],
                "properties": {"value": {"type": ["integer", "null"]}, "name": {"type": ["string", "null"]},
                               "metadata": {"$ref": "#/$defs/ObjectMeta"},
                               "items": {"type": ["array", "null"], "items": {"type": "string"}}}})

    suite = unittest.defaultTestLoader.loadTestsFromTestCase(Strip)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


def k8s_openapi_source(workdir, minor):
    """The crate's `src/v1_<minor>` directory, fetched with cargo into its usual cache."""
    module = "v" + minor.replace(".", "_")
    crate = K8S_OPENAPI.get(minor)
    if crate is None:
        sys.exit(f"no k8s-openapi release is named for Kubernetes {minor}: add one to K8S_OPENAPI")
    project = os.path.join(workdir, f"fetch-{minor}")
    os.makedirs(os.path.join(project, "src"), exist_ok=True)
    with open(os.path.join(project, "Cargo.toml"), "w") as f:
        f.write(
            '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n'
            f'[dependencies]\nk8s-openapi = {{ version = "={crate}", features = ["{module}"] }}\n'
        )
    with open(os.path.join(project, "src", "lib.rs"), "w") as f:
        f.write("")
    subprocess.run(["cargo", "fetch", "--quiet"], cwd=project, check=True)
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1"], cwd=project, check=True,
        capture_output=True, text=True).stdout)
    (package,) = [p for p in metadata["packages"] if p["name"] == "k8s-openapi"]
    source = os.path.join(os.path.dirname(package["manifest_path"]), "src", module)
    if not os.path.isdir(source):
        sys.exit(f"k8s-openapi {crate} has no module {module}")
    return source


RESOURCE_IMPL = re.compile(r"impl crate::Resource for \w+ \{(.*?)\n\}", re.S)


def scopes(source):
    """{"<group>/<Kind>": true for namespaced, false for cluster-scoped}."""
    found = {}
    for path in glob.glob(os.path.join(source, "**", "*.rs"), recursive=True):
        with open(path) as f:
            text = f.read()
        for block in RESOURCE_IMPL.findall(text):
            group = re.search(r'const GROUP: &\'static str = "(.*?)";', block).group(1)
            kind = re.search(r'const KIND: &\'static str = "(.*?)";', block).group(1)
            scope = re.search(r"type Scope = crate::(\w+);", block)
            if not scope or scope.group(1) not in ("NamespaceResourceScope", "ClusterResourceScope"):
                continue  # subresources
            found[f"{group}/{kind}"] = scope.group(1) == "NamespaceResourceScope"
    return dict(sorted(found.items()))


def top_level_kinds(definitions):
    for name, schema in definitions["$defs"].items():
        gvks = schema.get("x-kubernetes-group-version-kind", [])
        if len(gvks) == 1 and "kind" in schema.get("properties", {}):
            yield gvks[0]


def bundle(wheel, workdir, minor):
    definitions = read_definitions(wheel, minor)
    scope = scopes(k8s_openapi_source(workdir, minor))
    unknown = sorted(
        f"{g['group']}/{g['kind']}"
        for g in top_level_kinds(definitions)
        if not g["kind"].endswith("List") and f"{g['group']}/{g['kind']}" not in scope
    )
    if unknown:
        # Subresource kinds (Scale, Eviction, TokenRequest) and meta kinds (Status) are no
        # objects of their own; policyrun reports their scope as unknown.
        print(f"no scope in k8s-openapi (not stored objects): {', '.join(unknown)}")
    check_kind_files(wheel, minor, definitions)
    stripped = strip(definitions)
    lost = lost_by_stripping(definitions, stripped)
    if lost:
        sys.exit(f"Kubernetes {minor}: stripping annotations lost {len(lost)} fields or values, "
                 f"first {lost[:5]}; fix strip()")
    out = {
        "kubernetes_version": f"{minor}.0",
        "source": (
            f"kubernetes-validate {KUBERNETES_VALIDATE} ({schema_dir_name(minor)}), "
            f"scopes from k8s-openapi {K8S_OPENAPI[minor]}; written by scripts/update-schemas.py"
        ),
        "namespaced": scope,
        "definitions": stripped,
    }
    return out


def write_compressed(out, minor):
    """`schemas/kubernetes-<minor>.json.zlib`: compact JSON, zlib at its best level, which
    policyrun inflates (flate2) only when a run uses the release (BENCHMARKS.md, issue 24)."""
    text = json.dumps(out, separators=(",", ":"), sort_keys=True).encode()
    path = os.path.join(os.path.dirname(__file__), "..", "schemas", f"kubernetes-{minor}.json.zlib")
    with open(path, "wb") as f:
        f.write(zlib.compress(text, 9))
    print(f"wrote {os.path.normpath(path)} ({len(text)} bytes of JSON)")


def top_level(definition):
    """A kind's definition as kubernetes-validate's file for the kind has it, which policyrun
    builds the same way (`Definitions::kind_schema`): the object itself not null, each of
    its own fields nullable (`value: null` in a PriorityClass passes, though `value` is
    required)."""
    out = dict(definition)
    out["type"] = "object"
    properties = {}
    for name, schema in definition.get("properties", {}).items():
        types = schema.get("type")
        if isinstance(types, str):
            schema = dict(schema, type=[types, "null"])
        elif isinstance(types, list) and "null" not in types:
            schema = dict(schema, type=types + ["null"])
        properties[name] = schema
    if "properties" in definition:
        out["properties"] = properties
    return out


def check_kind_files(wheel, minor, definitions):
    """Every kind file of the release is `top_level` of its definition: else policyrun's
    top-level schemas would not be the reference's."""
    prefix = f"kubernetes_validate/kubernetes-json-schema/{schema_dir_name(minor)}/"
    names = set(wheel.namelist())
    compared, different = 0, []
    for name, definition in definitions["$defs"].items():
        gvks = definition.get("x-kubernetes-group-version-kind", [])
        if len(gvks) != 1 or "kind" not in definition.get("properties", {}):
            continue
        gvk = gvks[0]
        group = gvk["group"].split(".")[0]
        file = f"{prefix}{gvk['kind'].lower()}-{group + '-' if group else ''}{gvk['version']}.json"
        if file not in names:
            continue  # kubernetes-validate names a few by their package (meta, apiserverinternal)
        published = json.loads(wheel.read(file))
        if published.get("x-kubernetes-group-version-kind") != gvks:
            continue  # two groups share the first label: the file is another group's
        published = {k: v for k, v in published.items() if k not in ("$id", "$schema")}
        text = json.dumps(strip(published), sort_keys=True).replace('"/api/_definitions.json#', '"#')
        compared += 1
        if json.loads(text) != strip(top_level(definition)):
            different.append(name)
    if different:
        sys.exit(f"Kubernetes {minor}: kind files differ from their definitions beyond the top "
                 f"level's nullability: {', '.join(different[:5])}; update top_level() and "
                 "Definitions::kind_schema together")
    print(f"Kubernetes {minor}: {compared} kind files are their definitions' top level")


def write_plain(out, minor, directory):
    """The bundle as indented JSON, for reading and comparing (`--plain DIR`)."""
    path = os.path.join(directory, f"kubernetes-{minor}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {os.path.normpath(path)}")


def extract(wheel, target, minors):
    for minor in minors:
        prefix = f"kubernetes_validate/kubernetes-json-schema/{schema_dir_name(minor)}/"
        members = [n for n in wheel.namelist() if n.startswith(prefix) and not n.endswith("/")]
        if not members:
            sys.exit(f"kubernetes-validate {KUBERNETES_VALIDATE} has no schemas for Kubernetes {minor}")
        for member in members:
            destination = os.path.join(target, schema_dir_name(minor), member[len(prefix):])
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            with open(destination, "wb") as f:
                f.write(wheel.read(member))
        print(f"extracted {os.path.join(target, schema_dir_name(minor))} ({len(members)} files)")


def releases_in(wheel):
    """Every release the wheel carries strict schemas for, oldest first."""
    found = set()
    for name in wheel.namelist():
        match = re.match(r"kubernetes_validate/kubernetes-json-schema/v(1\.\d+)\.0-local-strict/", name)
        if match:
            found.add(match.group(1))
    return sorted(found, key=lambda minor: int(minor.split(".")[1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubernetes", default="all",
                        help="release(s) as MAJOR.MINOR, comma-separated (default: all the wheel carries)")
    parser.add_argument("--extract", metavar="DIR", help="unpack full schema directories into DIR")
    parser.add_argument("--plain", metavar="DIR", help="write the bundles uncompressed into DIR instead")
    parser.add_argument("--self-test", action="store_true", help="run the stripping's unit tests and exit")
    args = parser.parse_args()
    if args.self_test:
        self_test()
    with tempfile.TemporaryDirectory() as workdir:
        wheel = fetch_wheel(workdir)
        available = releases_in(wheel)
        if args.kubernetes == "all":
            minors = available
        else:
            minors = [m.strip() for m in args.kubernetes.split(",") if m.strip()]
        for minor in minors:
            if not re.fullmatch(r"1\.\d+", minor):
                sys.exit(f"--kubernetes: {minor!r} is not MAJOR.MINOR (1.35)")
        if args.extract:
            extract(wheel, args.extract, minors)
            return
        for minor in minors:
            out = bundle(wheel, workdir, minor)
            if args.plain:
                write_plain(out, minor, args.plain)
            else:
                write_compressed(out, minor)


if __name__ == "__main__":
    main()
