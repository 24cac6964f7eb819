//! Generated CustomResourceDefinitions and custom resources, checked by `policyrun validate`
//! against an independent model of what the API server would say (issue 24: no false
//! failures on real CRDs). The CRDs look like controller-gen's: descriptions at every level,
//! titles, examples, printer columns with descriptions, properties named like schema
//! keywords (`description`, `type`, `default`, `title`, `items`...) or like label selectors
//! (`matchLabels`, `labels`), `x-kubernetes-*` extensions, defaults, `nullable`,
//! `oneOf`/`anyOf`, enums, nested arrays and maps, CEL rules. Their objects are valid ones,
//! ones with nulls to prune, ones that pass only once defaulted, and ones broken on purpose.
//! Every verdict must be the model's: zero differences.
//!
//! The model shares no code with policyrun. Its rules, and where they come from:
//!
//! 1. **Nulls** (apiextensions-apiserver, `defaulting.PruneNonNullableNullsWithoutDefaults`,
//!    whose documentation says it "removes non-nullable non-defaultable null values from
//!    object. Non-nullable nulls that have a default are left alone here and will be
//!    defaulted later"; the Kubernetes documentation, "Extend the Kubernetes API with
//!    CustomResourceDefinitions", section "Defaulting and Nullable"): a null field of an
//!    object whose schema (its property's, else the map values') is not `nullable` and has
//!    no default is removed. A null array item is never removed.
//! 2. **Defaults** (`defaulting.Default`; KEP-575 "Defaulting for Custom Resources":
//!    defaulting "happens during deserialization", before validation): in every object that
//!    is present, each property with a default that is absent, or null and not `nullable`,
//!    takes the default; then every field is defaulted below, a default just applied too. A
//!    null map value or array item that is not `nullable` takes the values' or items'
//!    default. Only the structural skeleton (`properties`, `items`, `additionalProperties`)
//!    holds defaults.
//! 3. **Unknown fields** (KEP-2332 "Pruning for Custom Resources": fields the schema does not
//!    specify are pruned, except below `x-kubernetes-preserve-unknown-fields: true`): with
//!    kubectl's strict field validation, its default, a pruned field is an error.
//! 4. **Values** (kube-openapi's `SchemaValidator`, which validates a null only with its type
//!    and common validators): a null passes `type` only when `nullable`, and fails any `enum`
//!    (the common validator never matches a null); `allOf`/`anyOf`/`oneOf` are not checked
//!    for it. Otherwise JSON Schema as usual: `type`, `enum`, `maxLength`, `minimum`,
//!    `maximum`, `required` (a key that is present, even null), `oneOf` (exactly one branch),
//!    `anyOf` (at least one). `x-kubernetes-int-or-string` takes integers and strings;
//!    `format: duration` takes Go durations (`5m`), which kube-openapi parses with Go.
//! 5. **Embedded resources** (`x-kubernetes-embedded-resource`; apiextensions-apiserver
//!    `objectmeta.validateEmbeddedResource`): `apiVersion` and `kind` are required strings,
//!    `metadata` an ObjectMeta whose labels the API server validates — a label value that is
//!    not one fails the object's `metadata` check, not its schema check.
//! 6. The object's own `metadata` is an ObjectMeta, whatever the CRD says; a CRD's schema is
//!    never read as labels.
//!
//! `POLICYRUN_CRD_SEED=<n>` runs another seed (the test's fixed one runs in CI).

use crate::support;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};
use support::{outcome_list, policyrun};

/// How many CRDs, and objects of each.
const CRDS: usize = 36;
const OBJECTS_PER_CRD: usize = 28;

/// A small deterministic generator (xorshift).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Property names, many of them schema keywords or label-ish words that mean nothing here.
const NAMES: &[&str] = &[
    "description",
    "matchLabels",
    "type",
    "default",
    "title",
    "items",
    "properties",
    "required",
    "enum",
    "format",
    "nullable",
    "labels",
    "annotations",
    "selector",
    "template",
    "additionalProperties",
    "oneOf",
    "x-kubernetes-validations",
    "name",
    "value",
    "size",
    "mode",
    "replicas",
    "metadata",
];

/// Map keys: some are no label keys at all, which no check may mind.
const KEYS: &[&str] = &[
    "app",
    "Not A Label Key",
    "matchLabels",
    "app.kubernetes.io/name",
    "weird/key/with/slashes",
    "x",
];

/// Free text: descriptions, titles and string values.
const WORDS: &[&str] = &[
    "Labels to match",
    "The desired state, as the user wants it.",
    "Hello, world!",
    "-starts with a dash",
    "{key,value} pairs",
    "see https://example.com/docs#anchor",
    "plain",
    "ends with a dot.",
];

#[derive(Clone, Debug)]
struct Node {
    shape: Shape,
    nullable: bool,
    default: Option<Value>,
    one_of: Vec<Branch>,
    any_of: Vec<Branch>,
}

#[derive(Clone, Debug)]
enum Shape {
    Text {
        choices: Option<Vec<String>>,
        max_length: Option<usize>,
        duration: bool,
    },
    Number {
        minimum: Option<i64>,
        maximum: Option<i64>,
    },
    Flag,
    IntOrString,
    Object {
        fields: Vec<(String, Node)>,
        required: Vec<String>,
        keep_unknown: bool,
        embedded: bool,
    },
    Map(Box<Node>),
    List(Box<Node>),
    /// `type: object` with `x-kubernetes-preserve-unknown-fields` and nothing else.
    Free,
}

/// A value validation in `oneOf`/`anyOf`.
#[derive(Clone, Debug)]
enum Branch {
    /// `{required: [field]}`
    Requires(String),
    /// `{properties: {field: {enum: [value]}}}`
    Equals(String, String),
}

fn plain(shape: Shape) -> Node {
    Node {
        shape,
        nullable: false,
        default: None,
        one_of: Vec::new(),
        any_of: Vec::new(),
    }
}

fn text(rng: &mut Random) -> String {
    rng.pick(WORDS).to_string()
}

// ---------------------------------------------------------------------------------------
// Schemas

fn gen_node(rng: &mut Random, depth: usize) -> Node {
    let roll = rng.below(100);
    let shape = if depth >= 3 || roll < 45 {
        match rng.below(7) {
            0 | 1 => Shape::Text {
                choices: rng.chance(40).then(|| {
                    let n = 2 + rng.below(3);
                    (0..n).map(|i| format!("Choice{i}")).collect()
                }),
                max_length: rng.chance(20).then_some(12),
                duration: false,
            },
            2 => Shape::Text {
                choices: None,
                max_length: None,
                duration: true,
            },
            3 => Shape::Number {
                minimum: rng.chance(50).then_some(0),
                maximum: rng.chance(40).then_some(100),
            },
            4 => Shape::Flag,
            5 => Shape::IntOrString,
            _ => Shape::Free,
        }
    } else if roll < 75 {
        gen_object(rng, depth)
    } else if roll < 88 {
        Shape::Map(Box::new(gen_node(rng, depth + 1)))
    } else {
        Shape::List(Box::new(gen_node(rng, depth + 1)))
    };
    let mut node = plain(shape);
    add_branches(rng, &mut node);
    node.nullable = rng.chance(15);
    let default_chance = match node.shape {
        Shape::Object { embedded: true, .. } | Shape::Free => 0,
        Shape::Object { .. } | Shape::Map(_) | Shape::List(_) => 12,
        _ => 25,
    };
    if rng.chance(default_chance) {
        let candidate = gen_value(rng, &node, Mode::Complete);
        // The API server refuses a CRD whose defaults do not validate (after pruning and
        // defaulting them): only valid ones are kept.
        if !candidate.is_null() && is_valid(&node, &prepare(&node, &candidate)) {
            node.default = Some(candidate);
        }
    }
    node
}

fn gen_object(rng: &mut Random, depth: usize) -> Shape {
    let embedded = rng.chance(10);
    let count = 1 + rng.below(if depth == 0 { 6 } else { 4 });
    let mut fields: Vec<(String, Node)> = Vec::new();
    while fields.len() < count {
        let name = rng.pick(NAMES).to_string();
        if fields.iter().any(|(n, _)| *n == name)
            || (embedded && ["metadata", "apiVersion", "kind"].contains(&name.as_str()))
        {
            continue;
        }
        fields.push((name, gen_node(rng, depth + 1)));
    }
    let required = fields
        .iter()
        .filter(|_| rng.chance(35))
        .map(|(n, _)| n.clone())
        .collect();
    Shape::Object {
        fields,
        required,
        keep_unknown: rng.chance(if embedded { 50 } else { 10 }),
        embedded,
    }
}

/// `oneOf` keyed by an enum field (the API server's `type: IPAddress` pattern: without the
/// default, every branch holds), or `oneOf`/`anyOf` of required fields.
fn add_branches(rng: &mut Random, node: &mut Node) {
    let Shape::Object { fields, .. } = &mut node.shape else {
        return;
    };
    if rng.chance(25)
        && let Some((name, field)) = fields.iter_mut().find(|(_, f)| {
            matches!(
                &f.shape,
                Shape::Text {
                    choices: Some(_),
                    ..
                }
            ) && !f.nullable
        })
    {
        let Shape::Text {
            choices: Some(choices),
            ..
        } = &field.shape
        else {
            unreachable!()
        };
        node.one_of = choices
            .iter()
            .map(|c| Branch::Equals(name.clone(), c.clone()))
            .collect();
        if rng.chance(70) {
            field.default = Some(Value::String(choices[0].clone()));
        }
        return;
    }
    if fields.len() >= 2 && rng.chance(20) {
        let a = fields[0].0.clone();
        let b = fields[1].0.clone();
        let branches = vec![Branch::Requires(a), Branch::Requires(b)];
        if rng.chance(50) {
            node.one_of = branches;
        } else {
            node.any_of = branches;
        }
    }
}

/// The node as a CRD's `openAPIV3Schema` node, dressed as controller-gen dresses it.
fn openapi(rng: &mut Random, node: &Node, cel: &mut bool) -> Value {
    let mut out = Map::new();
    out.insert("description".into(), text(rng).into());
    if rng.chance(20) {
        out.insert("title".into(), text(rng).into());
    }
    match &node.shape {
        Shape::Text {
            choices,
            max_length,
            duration,
        } => {
            out.insert("type".into(), "string".into());
            if let Some(choices) = choices {
                out.insert("enum".into(), json!(choices));
            }
            if let Some(max) = max_length {
                out.insert("maxLength".into(), json!(max));
            }
            if *duration {
                out.insert("format".into(), "duration".into());
            }
        }
        Shape::Number { minimum, maximum } => {
            out.insert("type".into(), "integer".into());
            out.insert("format".into(), "int32".into());
            if let Some(min) = minimum {
                out.insert("minimum".into(), json!(min));
            }
            if let Some(max) = maximum {
                out.insert("maximum".into(), json!(max));
            }
            if rng.chance(30) {
                out.insert("example".into(), json!(minimum.unwrap_or(1)));
            }
        }
        Shape::Flag => {
            out.insert("type".into(), "boolean".into());
        }
        Shape::IntOrString => {
            out.insert("x-kubernetes-int-or-string".into(), true.into());
            if rng.chance(60) {
                out.insert(
                    "anyOf".into(),
                    json!([{"type": "integer"}, {"type": "string"}]),
                );
            }
        }
        Shape::Object {
            fields,
            required,
            keep_unknown,
            embedded,
        } => {
            out.insert("type".into(), "object".into());
            let properties: Map<String, Value> = fields
                .iter()
                .map(|(name, field)| (name.clone(), openapi(rng, field, cel)))
                .collect();
            out.insert("properties".into(), Value::Object(properties));
            if !required.is_empty() {
                out.insert("required".into(), json!(required));
            }
            if *keep_unknown {
                out.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
            }
            if *embedded {
                out.insert("x-kubernetes-embedded-resource".into(), true.into());
            }
        }
        Shape::Map(values) => {
            out.insert("type".into(), "object".into());
            out.insert("additionalProperties".into(), openapi(rng, values, cel));
            if rng.chance(30) {
                out.insert("x-kubernetes-map-type".into(), "granular".into());
            }
        }
        Shape::List(items) => {
            out.insert("type".into(), "array".into());
            out.insert("items".into(), openapi(rng, items, cel));
            out.insert("x-kubernetes-list-type".into(), "atomic".into());
        }
        Shape::Free => {
            out.insert("type".into(), "object".into());
            out.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
        }
    }
    if node.nullable {
        out.insert("nullable".into(), true.into());
    }
    if let Some(default) = &node.default {
        out.insert("default".into(), default.clone());
    }
    for (key, branches) in [("oneOf", &node.one_of), ("anyOf", &node.any_of)] {
        if !branches.is_empty() {
            let list: Vec<Value> = branches
                .iter()
                .map(|b| match b {
                    Branch::Requires(field) => json!({"required": [field]}),
                    Branch::Equals(field, value) => {
                        json!({"properties": {field: {"enum": [value]}}})
                    }
                })
                .collect();
            out.insert(key.into(), Value::Array(list));
        }
    }
    if rng.chance(3) {
        *cel = true;
        out.insert(
            "x-kubernetes-validations".into(),
            json!([{"rule": "self == self", "message": "never checked by policyrun"}]),
        );
    }
    Value::Object(out)
}

/// A CRD and the model of its objects (the root's `spec` and `status`).
struct Generated {
    kind: String,
    namespaced: bool,
    root: Node,
    crd: Value,
    cel: bool,
}

fn gen_crd(rng: &mut Random, index: usize) -> Generated {
    let kind = format!("Gen{index}");
    let plural = format!("gen{index}s");
    let spec = match gen_object(rng, 0) {
        shape @ Shape::Object { .. } => {
            let mut node = plain(shape);
            add_branches(rng, &mut node);
            node
        }
        _ => unreachable!(),
    };
    let mut fields = vec![("spec".to_owned(), spec)];
    if rng.chance(40) {
        fields.push(("status".to_owned(), plain(gen_object(rng, 1))));
    }
    let root = plain(Shape::Object {
        fields,
        required: vec!["spec".to_owned()],
        keep_unknown: false,
        embedded: false,
    });
    let mut cel = false;
    let mut schema = openapi(rng, &root, &mut cel);
    let properties = schema["properties"].as_object_mut().unwrap();
    properties.insert(
        "apiVersion".into(),
        json!({"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"}),
    );
    properties.insert(
        "kind".into(),
        json!({"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"}),
    );
    properties.insert("metadata".into(), json!({"type": "object"}));
    let namespaced = rng.chance(70);
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.gen.example.com"),
            "annotations": {"controller-gen.kubebuilder.io/version": "v0.16.0"}},
        "spec": {
            "group": "gen.example.com",
            "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural, "singular": format!("gen{index}")},
            "scope": if namespaced { "Namespaced" } else { "Cluster" },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "additionalPrinterColumns": [
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                     "description": "CreationTimestamp is a timestamp representing the server time when this object was created."},
                    {"name": "Spec", "type": "string", "jsonPath": ".spec", "priority": 1, "description": text(rng)}
                ],
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": schema}
            }]
        }
    });
    Generated {
        kind,
        namespaced,
        root,
        crd,
        cel,
    }
}

// ---------------------------------------------------------------------------------------
// Objects

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Anything a user might write: omissions, nulls, unknown fields where kept.
    Loose,
    /// Every required field and every `oneOf`/`anyOf` answered: for defaults.
    Complete,
}

fn gen_value(rng: &mut Random, node: &Node, mode: Mode) -> Value {
    match &node.shape {
        Shape::Text {
            choices,
            max_length,
            duration,
        } => {
            if let Some(choices) = choices {
                Value::String(rng.pick(choices).clone())
            } else if *duration {
                Value::String(rng.pick(&["5m", "1h30m", "250ms", "0"]).to_string())
            } else {
                let mut s = text(rng);
                if let Some(max) = max_length {
                    s.truncate(*max);
                }
                Value::String(s)
            }
        }
        Shape::Number { minimum, maximum } => {
            let low = minimum.unwrap_or(-5);
            let high = maximum.unwrap_or(low + 50);
            json!(low + rng.below((high - low + 1) as usize) as i64)
        }
        Shape::Flag => json!(rng.chance(50)),
        Shape::IntOrString => {
            if rng.chance(50) {
                json!(3)
            } else {
                json!("25%")
            }
        }
        Shape::Free => {
            json!({"anything": [1, "two", null], "nested": {"x": null, "Not A Label": "y"}})
        }
        Shape::Map(values) => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                let key = rng.pick(KEYS).to_string();
                let value = if mode == Mode::Loose && rng.chance(10) {
                    Value::Null
                } else {
                    gen_value(rng, values, mode)
                };
                map.insert(key, value);
            }
            Value::Object(map)
        }
        Shape::List(items) => {
            let n = rng.below(4);
            Value::Array(
                (0..n)
                    .map(|_| {
                        if mode == Mode::Loose && rng.chance(5) {
                            Value::Null
                        } else {
                            gen_value(rng, items, mode)
                        }
                    })
                    .collect(),
            )
        }
        Shape::Object {
            fields,
            required,
            keep_unknown,
            embedded,
        } => {
            let mut map = Map::new();
            if *embedded {
                map.insert("apiVersion".into(), "v1".into());
                map.insert("kind".into(), "ConfigMap".into());
                let label = if mode == Mode::Loose && rng.chance(8) {
                    "Not A Label"
                } else {
                    "web"
                };
                map.insert(
                    "metadata".into(),
                    json!({"name": "embedded", "labels": {"app": label}}),
                );
            }
            for (name, field) in fields {
                let is_required = required.contains(name)
                    || node.one_of.iter().chain(&node.any_of).any(|b| {
                        matches!(b, Branch::Requires(f) if f == name) && mode == Mode::Complete
                    });
                let present = match mode {
                    Mode::Complete => is_required,
                    // A required field with a default may be left to it.
                    Mode::Loose if is_required => field.default.is_none() || !rng.chance(30),
                    Mode::Loose => rng.chance(55),
                };
                if !present {
                    continue;
                }
                let value = if mode == Mode::Loose && rng.chance(12) {
                    Value::Null
                } else {
                    gen_value(rng, field, mode)
                };
                map.insert(name.clone(), value);
            }
            if mode == Mode::Complete && !node.one_of.is_empty() {
                // Exactly one `Requires` branch answered; an `Equals` one holds by its value.
                if let Some(Branch::Requires(first)) = node.one_of.first()
                    && let Some(Branch::Requires(second)) = node.one_of.get(1)
                {
                    map.remove(second);
                    if !map.contains_key(first)
                        && let Some((_, f)) = fields.iter().find(|(n, _)| n == first)
                    {
                        let value = gen_value(rng, f, mode);
                        map.insert(first.clone(), value);
                    }
                }
            }
            if *keep_unknown && mode == Mode::Loose && rng.chance(40) {
                map.insert("kept".into(), json!({"free": [null, 1]}));
            }
            Value::Object(map)
        }
    }
}

/// Breaks `value` somewhere, as people do: a wrong type, an unknown field, a missing
/// required field, a value out of range or not in the enum, a null where none is taken.
/// The model decides whether the result is still valid (under a kept-unknown object, an
/// unknown field is fine).
fn mutate(rng: &mut Random, node: &Node, value: &mut Value) {
    let mut places = Vec::new();
    collect(node, value, String::new(), &mut places);
    if places.is_empty() {
        return;
    }
    let (pointer, target) = rng.pick(&places).clone();
    let Some(slot) = value.pointer_mut(&pointer) else {
        return;
    };
    match (&target.shape, rng.below(4)) {
        (Shape::Object { required, .. }, 0) if !required.is_empty() => {
            if let Value::Object(map) = slot {
                map.remove(&required[0]);
            }
        }
        (Shape::Object { .. }, 1) => {
            if let Value::Object(map) = slot {
                map.insert("unexpectedField".into(), json!(1));
            }
        }
        (
            Shape::Text {
                choices: Some(_), ..
            },
            _,
        ) => *slot = json!("NotAChoice"),
        (
            Shape::Text {
                max_length: Some(_),
                ..
            },
            1,
        ) => *slot = json!("x".repeat(40)),
        (
            Shape::Number {
                maximum: Some(max), ..
            },
            1,
        ) => *slot = json!(max + 1),
        (
            Shape::Number {
                minimum: Some(min), ..
            },
            2,
        ) => *slot = json!(min - 1),
        (Shape::IntOrString, _) => *slot = json!(true),
        (_, 3) => *slot = Value::Null,
        (Shape::Text { .. }, _) => *slot = json!(42),
        _ => *slot = json!("oops"),
    }
}

/// Every place in `value` with its schema, as JSON pointers.
fn collect<'n>(node: &'n Node, value: &Value, pointer: String, out: &mut Vec<(String, &'n Node)>) {
    if !pointer.is_empty() {
        out.push((pointer.clone(), node));
    }
    match (&node.shape, value) {
        (Shape::Object { fields, .. }, Value::Object(map)) => {
            for (name, field) in fields {
                if let Some(child) = map.get(name) {
                    collect(field, child, format!("{pointer}/{}", escape(name)), out);
                }
            }
        }
        (Shape::Map(values), Value::Object(map)) => {
            for (key, child) in map {
                collect(values, child, format!("{pointer}/{}", escape(key)), out);
            }
        }
        (Shape::List(items), Value::Array(list)) => {
            for (i, child) in list.iter().enumerate() {
                collect(items, child, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

// ---------------------------------------------------------------------------------------
// The model of the API server

/// The schema of `key` in an object: its property's, else the map values'.
fn schema_of<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.shape {
        Shape::Object { fields, .. } => fields.iter().find(|(n, _)| n == key).map(|(_, f)| f),
        Shape::Map(values) => Some(values),
        _ => None,
    }
}

/// Rules 1 and 2: nulls pruned, then defaults applied, on a copy.
fn prepare(node: &Node, value: &Value) -> Value {
    let mut copy = value.clone();
    prune_nulls(Some(node), &mut copy);
    apply_defaults(node, &mut copy);
    copy
}

fn prune_nulls(node: Option<&Node>, value: &mut Value) {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let below = node.and_then(|n| schema_of(n, &key));
                let drop = map[&key].is_null()
                    && below.is_some_and(|s| !s.nullable && s.default.is_none());
                if drop {
                    map.remove(&key);
                } else {
                    prune_nulls(below, map.get_mut(&key).unwrap());
                }
            }
        }
        Value::Array(list) => {
            let items = match node.map(|n| &n.shape) {
                Some(Shape::List(items)) => Some(items.as_ref()),
                _ => None,
            };
            for item in list {
                prune_nulls(items, item);
            }
        }
        _ => {}
    }
}

fn apply_defaults(node: &Node, value: &mut Value) {
    match (&node.shape, value) {
        (Shape::Object { fields, .. }, Value::Object(map)) => {
            for (name, field) in fields {
                if let Some(default) = &field.default {
                    let missing = match map.get(name) {
                        None => true,
                        Some(Value::Null) => !field.nullable,
                        Some(_) => false,
                    };
                    if missing {
                        map.insert(name.clone(), default.clone());
                    }
                }
            }
            for (name, field) in fields {
                if let Some(child) = map.get_mut(name) {
                    apply_defaults(field, child);
                }
            }
        }
        (Shape::Map(values), Value::Object(map)) => {
            for child in map.values_mut() {
                if child.is_null()
                    && !values.nullable
                    && let Some(default) = &values.default
                {
                    *child = default.clone();
                }
                apply_defaults(values, child);
            }
        }
        (Shape::List(items), Value::Array(list)) => {
            for child in list {
                if child.is_null()
                    && !items.nullable
                    && let Some(default) = &items.default
                {
                    *child = default.clone();
                }
                apply_defaults(items, child);
            }
        }
        _ => {}
    }
}

/// Rules 3 to 5, on a prepared value.
fn is_valid(node: &Node, value: &Value) -> bool {
    if value.is_null() {
        let has_enum = matches!(
            &node.shape,
            Shape::Text {
                choices: Some(_),
                ..
            }
        );
        return node.nullable && !has_enum;
    }
    let shape_ok = match (&node.shape, value) {
        (
            Shape::Text {
                choices,
                max_length,
                ..
            },
            Value::String(s),
        ) => {
            choices.as_ref().is_none_or(|c| c.contains(s))
                && max_length.is_none_or(|max| s.chars().count() <= max)
        }
        (Shape::Number { minimum, maximum }, Value::Number(n)) => n.as_i64().is_some_and(|n| {
            minimum.is_none_or(|min| n >= min) && maximum.is_none_or(|max| n <= max)
        }),
        (Shape::Flag, Value::Bool(_)) => true,
        (Shape::IntOrString, Value::String(_)) => true,
        (Shape::IntOrString, Value::Number(n)) => n.as_i64().is_some(),
        (Shape::Free, Value::Object(_)) => true,
        (Shape::Map(values), Value::Object(map)) => map.values().all(|v| is_valid(values, v)),
        (Shape::List(items), Value::Array(list)) => list.iter().all(|v| is_valid(items, v)),
        (
            Shape::Object {
                fields,
                required,
                keep_unknown,
                embedded,
            },
            Value::Object(map),
        ) => {
            let known = |key: &str| {
                fields.iter().any(|(n, _)| n == key)
                    || (*embedded && ["apiVersion", "kind", "metadata"].contains(&key))
            };
            let embedded_ok = !*embedded
                || (map.get("apiVersion").is_some_and(Value::is_string)
                    && map.get("kind").is_some_and(Value::is_string)
                    && map.get("metadata").is_none_or(Value::is_object));
            embedded_ok
                && required.iter().all(|r| map.contains_key(r))
                && map.keys().all(|k| *keep_unknown || known(k))
                && fields
                    .iter()
                    .all(|(n, f)| map.get(n).is_none_or(|v| is_valid(f, v)))
        }
        _ => false,
    };
    let holds = |branch: &Branch| match (branch, value) {
        (Branch::Requires(field), Value::Object(map)) => map.contains_key(field),
        (Branch::Equals(field, expected), Value::Object(map)) => map
            .get(field)
            .is_none_or(|v| v.as_str() == Some(expected.as_str())),
        _ => true,
    };
    let one_of_ok = node.one_of.is_empty() || node.one_of.iter().filter(|b| holds(b)).count() == 1;
    let any_of_ok = node.any_of.is_empty() || node.any_of.iter().any(holds);
    shape_ok && one_of_ok && any_of_ok
}

/// Rule 6: the root's `apiVersion`, `kind` and `metadata` are the API server's, not the
/// CRD's (the generated ones are always valid).
fn without_type_and_metadata(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Value::Object(map) = &mut copy {
        for key in ["apiVersion", "kind", "metadata"] {
            map.remove(key);
        }
    }
    copy
}

/// Rule 5's label part: whether every embedded resource's labels are label values, read
/// on the object as written.
fn labels_ok(node: &Node, value: &Value) -> bool {
    match (&node.shape, value) {
        (
            Shape::Object {
                fields, embedded, ..
            },
            Value::Object(map),
        ) => {
            let own = !*embedded
                || map
                    .get("metadata")
                    .and_then(|m| m.get("labels"))
                    .and_then(Value::as_object)
                    .is_none_or(|labels| labels.values().all(|v| v != "Not A Label"));
            own && fields
                .iter()
                .all(|(n, f)| map.get(n).is_none_or(|v| labels_ok(f, v)))
        }
        (Shape::Map(values), Value::Object(map)) => map.values().all(|v| labels_ok(values, v)),
        (Shape::List(items), Value::Array(list)) => list.iter().all(|v| labels_ok(items, v)),
        _ => true,
    }
}

// ---------------------------------------------------------------------------------------
// The test

/// What one custom resource is, and what the model says about it.
struct Expected {
    kind: String,
    name: String,
    object: Value,
    prepared: Value,
    schema_passes: bool,
    passes_as_written: bool,
    metadata_passes: bool,
}

#[test]
fn generated_crds_and_custom_resources_get_the_api_servers_verdicts() {
    let seed = std::env::var("POLICYRUN_CRD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c0de_2024_0024u64);
    let mut rng = Random(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut crds = Vec::new();
    let mut expected = Vec::new();
    for i in 0..CRDS {
        let generated = gen_crd(&mut rng, i);
        std::fs::write(
            dir.path().join(format!("crd-{i}.json")),
            serde_json::to_string_pretty(&generated.crd).unwrap(),
        )
        .unwrap();
        for j in 0..OBJECTS_PER_CRD {
            let mut body = gen_value(&mut rng, &generated.root, Mode::Loose);
            if rng.chance(30) {
                mutate(&mut rng, &generated.root, &mut body);
            }
            let mut object = json!({
                "apiVersion": "gen.example.com/v1",
                "kind": generated.kind,
                "metadata": {"name": format!("o-{j}"), "labels": {"generated": "yes"}},
            });
            if generated.namespaced {
                object["metadata"]["namespace"] = json!("ns-a");
            }
            if let Value::Object(fields) = body {
                object.as_object_mut().unwrap().extend(fields);
            }
            let prepared = prepare(&generated.root, &object);
            expected.push(Expected {
                kind: generated.kind.clone(),
                name: format!("o-{j}"),
                schema_passes: is_valid(&generated.root, &without_type_and_metadata(&prepared)),
                passes_as_written: is_valid(&generated.root, &without_type_and_metadata(&object)),
                metadata_passes: labels_ok(&generated.root, &object),
                object: object.clone(),
                prepared,
            });
            std::fs::write(
                dir.path().join(format!("cr-{i}-{j}.json")),
                serde_json::to_string(&object).unwrap(),
            )
            .unwrap();
        }
        crds.push(generated);
    }

    let run = policyrun(dir.path(), &["validate", ".", "--output", "json"]);
    assert!(run.code <= 1, "{}{}", run.stdout, run.stderr);
    let mut verdicts: BTreeMap<(String, String, String), Value> = BTreeMap::new();
    for outcome in outcome_list(&run) {
        let Some(id) = outcome.get("object").filter(|o| o.is_object()) else {
            panic!("an outcome about no object: {outcome}");
        };
        let key = (
            id["kind"].as_str().unwrap().to_owned(),
            id["name"].as_str().unwrap().to_owned(),
            outcome["check"].as_str().unwrap().to_owned(),
        );
        verdicts.insert(key, outcome);
    }
    let verdict = |kind: &str, name: &str, check: &str| -> &Value {
        verdicts
            .get(&(kind.to_owned(), name.to_owned(), check.to_owned()))
            .unwrap_or_else(|| panic!("no {check} outcome for {kind} {name}"))
    };

    let mut differences = Vec::new();
    for generated in &crds {
        let name = generated.crd["metadata"]["name"].as_str().unwrap();
        for check in ["schema", "metadata"] {
            let outcome = verdict("CustomResourceDefinition", name, check);
            if outcome["status"] != "passed" {
                differences.push(format!(
                    "CustomResourceDefinition {name} {check}: expected passed, got {outcome}"
                ));
            }
        }
        let said = verdict("CustomResourceDefinition", name, "schema").to_string();
        if generated.cel != said.contains("CEL rules") {
            differences.push(format!(
                "CustomResourceDefinition {name}: CEL rules {}, outcome {said}",
                generated.cel
            ));
        }
    }
    for case in &expected {
        let schema = verdict(&case.kind, &case.name, "schema");
        let metadata = verdict(&case.kind, &case.name, "metadata");
        let want = |passes: bool| if passes { "passed" } else { "failed" };
        if schema["status"] != want(case.schema_passes)
            || metadata["status"] != want(case.metadata_passes)
            || schema.to_string().contains("CEL rules")
        {
            let mut text = String::new();
            let _ = writeln!(
                text,
                "{} {}: expected schema {} and metadata {}, got {} and {}",
                case.kind,
                case.name,
                want(case.schema_passes),
                want(case.metadata_passes),
                schema["status"],
                metadata["status"]
            );
            let _ = writeln!(text, "  object:   {}", case.object);
            let _ = writeln!(text, "  prepared: {}", case.prepared);
            let _ = writeln!(
                text,
                "  schema:   {}",
                schema["detail"]
                    .as_str()
                    .or(schema["message"].as_str())
                    .unwrap_or_default()
            );
            let _ = writeln!(text, "  metadata: {}", metadata["message"]);
            differences.push(text);
        }
    }

    // The mix the generator is for: each kind of case, in numbers worth the name.
    let count = |f: &dyn Fn(&Expected) -> bool| expected.iter().filter(|e| f(e)).count();
    let valid = count(&|e| e.schema_passes);
    let invalid = count(&|e| !e.schema_passes);
    let need_preparation = count(&|e| e.schema_passes && !e.passes_as_written);
    let changed = count(&|e| e.prepared != e.object);
    let broken_by_defaults = count(&|e| !e.schema_passes && e.passes_as_written);
    let bad_labels = count(&|e| !e.metadata_passes);
    let cel = crds.iter().filter(|c| c.cel).count();
    let summary = format!(
        "seed {seed}: {} CRDs ({cel} with CEL rules), {} objects: {valid} valid ({need_preparation} only once nulls are pruned and defaults applied), {invalid} invalid ({broken_by_defaults} made so by a default), {changed} changed by preparation, {bad_labels} with an embedded label that is none",
        crds.len(),
        expected.len()
    );
    eprintln!("{summary}");
    assert!(
        differences.is_empty(),
        "{} differences from the model ({summary}):\n{}",
        differences.len(),
        differences
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        valid >= 300 && invalid >= 150 && need_preparation >= 40 && bad_labels >= 5 && cel >= 3,
        "the generator no longer makes the cases it is for: {summary}"
    );
}
