//! The type model: every event, shared object, string enum and union of the schema,
//! with objects merged by name so each concept becomes one Rust type.
//!
//! GitHub's schema repeats most objects inline (a "User" object appears hundreds of
//! times). Every object schema gets a canonical name (see [`crate::names`]); all
//! occurrences with one name merge into one struct whose fields are the union of the
//! occurrences' properties. A field is required only when every occurrence requires
//! it and none allows `null`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::docs;
use crate::ident::pascal;
use crate::names;

/// The shape of a value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ty {
    /// Any JSON (`serde_json::Value`).
    Any,
    Bool,
    Int,
    Float,
    Str,
    /// An integer or a string (GitHub sends some ids either way).
    IntOrStr,
    /// A point in time: an RFC 3339 string or Unix seconds (GitHub sends both).
    Timestamp,
    /// A free-form JSON object.
    Object,
    Enum(String),
    Struct(String),
    Union(String),
    Array(Box<Ty>),
    Map(Box<Ty>),
    /// A nullable array item or map value.
    Option(Box<Ty>),
    /// An object whose only property is `from`: a previous value in `changes`.
    Change(Box<Ty>),
}

/// One property of a merged object.
#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) ty: Ty,
    pub(crate) doc: Option<String>,
    /// How many occurrences of the object require the property.
    pub(crate) required: u32,
    pub(crate) nullable: bool,
    /// Optional although the schema requires it: recorded payloads omit it.
    pub(crate) relaxed: bool,
}

/// An object type, merged over all its occurrences.
#[derive(Debug, Default)]
pub(crate) struct Struct {
    pub(crate) doc: Option<String>,
    pub(crate) occurrences: u32,
    /// Occurrences that say which properties are required (a non-empty `required`
    /// list). One that lists none says nothing about which properties GitHub sends.
    pub(crate) declaring: u32,
    pub(crate) fields: BTreeMap<String, Field>,
}

impl Struct {
    /// Whether the field is an `Option` in Rust.
    pub(crate) fn optional(&self, field: &Field) -> bool {
        field.nullable || field.relaxed || field.required == 0 || field.required < self.declaring
    }
}

/// A string enum; values outside the list are kept as `Unknown`.
#[derive(Debug, Default)]
pub(crate) struct Enum {
    pub(crate) doc: Option<String>,
    pub(crate) values: BTreeSet<String>,
}

/// A value that is one of several distinct object types.
#[derive(Debug, Default)]
pub(crate) struct Union {
    pub(crate) doc: Option<String>,
    pub(crate) variants: Vec<String>,
}

/// One webhook event (`X-GitHub-Event`).
#[derive(Debug)]
pub(crate) struct Event {
    /// The type name of its payload struct.
    pub(crate) type_name: String,
    pub(crate) doc: Option<String>,
    /// Its actions (empty for events without an `action`).
    pub(crate) actions: BTreeSet<String>,
}

/// Everything the generator emits.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub(crate) structs: BTreeMap<String, Struct>,
    pub(crate) enums: BTreeMap<String, Enum>,
    pub(crate) unions: BTreeMap<String, Union>,
    /// By event name (`pull_request`).
    pub(crate) events: BTreeMap<String, Event>,
    /// Places where occurrences of one field disagree on its type.
    pub(crate) conflicts: Vec<String>,
}

impl Model {
    /// The action enum's name for an event type, if the event has actions.
    pub(crate) fn action_enum(event: &Event) -> Option<String> {
        (!event.actions.is_empty()).then(|| names::action_enum_name(&event.type_name))
    }
}

/// Where a schema sits: the object type it is a property of, and the property.
#[derive(Clone, Copy)]
struct Ctx<'c> {
    parent: &'c str,
    key: &'c str,
}

/// The properties of an object schema, with `allOf` and `$ref` resolved.
#[derive(Default)]
struct Parts<'a> {
    properties: BTreeMap<String, &'a Value>,
    required: BTreeSet<String>,
    description: Option<String>,
}

/// Builds the model from the OpenAPI document.
pub(crate) struct Builder<'a> {
    components: &'a Map<String, Value>,
    model: Model,
    /// Components already classified (objects are visited once).
    refs: BTreeMap<String, (Ty, bool)>,
    /// Names made from a place (parent type and property) rather than from the schema.
    place_names: BTreeSet<String>,
    /// Types found to be the same as another one (loser → winner), merged at the end.
    renames: BTreeMap<String, String>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new() -> Self {
        static NO_COMPONENTS: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        Self {
            components: NO_COMPONENTS.get_or_init(Map::new),
            model: Model::default(),
            refs: BTreeMap::new(),
            place_names: BTreeSet::new(),
            renames: BTreeMap::new(),
        }
    }

    /// Adds every webhook of one schema variant. Objects merge by name with those of
    /// the variants added before, so a field stays required only where every variant
    /// requires it.
    pub(crate) fn add_document(&mut self, document: &'a Value) -> Result<(), String> {
        self.components = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .ok_or("the schema has no components.schemas")?;
        // Component names are per document.
        self.refs.clear();
        self.add_webhooks(document)
    }

    /// Adds every webhook of the document.
    fn add_webhooks(&mut self, document: &'a Value) -> Result<(), String> {
        let webhooks = document
            .get("webhooks")
            .and_then(Value::as_object)
            .ok_or("the schema has no webhooks")?;
        for (name, hook) in webhooks {
            let post = hook
                .get("post")
                .ok_or(format!("webhook {name} has no post"))?;
            let operation = post
                .get("operationId")
                .and_then(Value::as_str)
                .ok_or(format!("webhook {name} has no operationId"))?;
            // `check-run/requested-action`: event `check_run`, action `requested_action`
            // (the same as the schema's `action` enum wherever it has one).
            let (event, action) = match operation.split_once('/') {
                Some((event, action)) => (event, Some(action.replace('-', "_"))),
                None => (operation, None),
            };
            let event = event.replace('-', "_");
            let schema = post
                .pointer("/requestBody/content/application~1json/schema")
                .ok_or(format!("webhook {name} has no JSON body schema"))?;
            let type_name = names::event_type_name(&event);
            let resolved = self.resolve(schema);
            let branches = ["oneOf", "anyOf"]
                .iter()
                .find_map(|k| resolved.get(*k).and_then(Value::as_array));
            match branches {
                // One webhook with several payload shapes: each is an occurrence.
                Some(branches) => {
                    for branch in branches {
                        let parts = self.parts(branch);
                        self.visit_parts(&parts, &type_name);
                    }
                }
                None => {
                    let parts = self.parts(schema);
                    self.visit_parts(&parts, &type_name);
                }
            }
            let entry = self.model.events.entry(event).or_insert_with(|| Event {
                type_name,
                doc: None,
                actions: BTreeSet::new(),
            });
            if entry.doc.is_none() {
                entry.doc = post
                    .get("summary")
                    .and_then(Value::as_str)
                    .and_then(docs::summary);
            }
            if let Some(action) = action {
                entry.actions.insert(action);
            }
        }
        for event in self.model.events.values() {
            if let (Some(name), Some(s)) = (
                Model::action_enum(event),
                self.model.structs.get_mut(&event.type_name),
            ) && let Some(field) = s.fields.get_mut("action")
            {
                field.ty = Ty::Enum(name);
            }
        }
        Ok(())
    }

    /// Merges the types found equal while building and returns the model.
    pub(crate) fn finish(mut self) -> Model {
        while let Some((loser, winner)) = self
            .renames
            .iter()
            .find(|(loser, _)| {
                self.model.structs.contains_key(*loser) || self.model.enums.contains_key(*loser)
            })
            .map(|(l, w)| (l.clone(), w.clone()))
        {
            let winner = self.canonical(&winner);
            if winner == loser {
                self.renames.remove(&loser);
                continue;
            }
            if let Some(gone) = self.model.enums.remove(&loser) {
                let target = self.model.enums.entry(winner).or_default();
                target.values.extend(gone.values);
                if target.doc.is_none() {
                    target.doc = gone.doc;
                }
                continue;
            }
            let Some(gone) = self.model.structs.remove(&loser) else {
                continue;
            };
            if let Some(field) = traced(&winner) {
                eprintln!(
                    "trace: {loser} ({} occurrences, {} requiring {field}) merged into {winner}",
                    gone.occurrences,
                    gone.fields.get(&field).map_or(0, |f| f.required),
                );
            }
            let mut target = self.model.structs.remove(&winner).unwrap_or_default();
            target.occurrences += gone.occurrences;
            target.declaring += gone.declaring;
            if target.doc.is_none() {
                target.doc = gone.doc;
            }
            for (key, field) in gone.fields {
                let merged = match target.fields.remove(&key) {
                    None => field,
                    Some(mut mine) => {
                        let location = format!("{winner}.{key}");
                        mine.ty = self.merge(mine.ty, field.ty, &location);
                        mine.required += field.required;
                        mine.nullable |= field.nullable;
                        if mine.doc.is_none() {
                            mine.doc = field.doc;
                        }
                        mine
                    }
                };
                target.fields.insert(key, merged);
            }
            self.model.structs.insert(winner, target);
        }
        let renames = std::mem::take(&mut self.renames);
        let rename = |name: &mut String| {
            let mut seen = 0;
            while let Some(next) = renames.get(name.as_str()) {
                *name = next.clone();
                seen += 1;
                assert!(seen < 100, "rename cycle at {name}");
            }
        };
        for s in self.model.structs.values_mut() {
            for field in s.fields.values_mut() {
                rename_ty(&mut field.ty, &rename);
            }
        }
        for u in self.model.unions.values_mut() {
            for variant in &mut u.variants {
                rename(variant);
            }
            let mut distinct: Vec<String> = Vec::new();
            for v in u.variants.drain(..) {
                if !distinct.contains(&v) {
                    distinct.push(v);
                }
            }
            u.variants = distinct;
        }
        self.fold_single_unions();
        self.rename_clashing_unions();
        self.fold_changes();
        self.model
    }

    /// Replaces every union whose variants merged into one struct by that struct
    /// (older schema variants split objects that later ones describe as one).
    fn fold_single_unions(&mut self) {
        let single: BTreeMap<String, Ty> = self
            .model
            .unions
            .iter()
            .filter_map(|(name, u)| match u.variants.as_slice() {
                [only] => Some((name.clone(), Ty::Struct(only.clone()))),
                _ => None,
            })
            .collect();
        self.replace_named(Named::Union, &single);
    }

    /// Renames a union that has the name of a struct (`RepositoryRule`, when older
    /// schema variants describe one of its variants as the whole) to `AnyRepositoryRule`.
    fn rename_clashing_unions(&mut self) {
        let clashing: Vec<String> = self
            .model
            .unions
            .keys()
            .filter(|name| self.model.structs.contains_key(*name))
            .cloned()
            .collect();
        for name in clashing {
            let renamed = format!("Any{name}");
            if let Some(union) = self.model.unions.remove(&name) {
                self.model.unions.insert(renamed.clone(), union);
            }
            visit_types(&mut self.model.structs, &mut |ty| {
                if let Ty::Union(union) = ty
                    && *union == name
                {
                    union.clone_from(&renamed);
                }
            });
        }
    }

    /// Replaces every `{ "from": T }` object by the shared `Change<T>`.
    fn fold_changes(&mut self) {
        let changes: BTreeMap<String, Ty> = self
            .model
            .structs
            .iter()
            .filter(|(_, s)| s.fields.len() == 1)
            .filter_map(|(name, s)| {
                let field = s.fields.get("from")?;
                let ty = wrap_option(field.ty.clone(), s.optional(field));
                Some((name.clone(), Ty::Change(Box::new(ty))))
            })
            .collect();
        self.replace_named(Named::Struct, &changes);
    }

    /// Drops the `kind` types that `replacements` names, and puts each one's
    /// replacement wherever a field used it.
    fn replace_named(&mut self, kind: Named, replacements: &BTreeMap<String, Ty>) {
        match kind {
            Named::Struct => self
                .model
                .structs
                .retain(|name, _| !replacements.contains_key(name)),
            Named::Union => self
                .model
                .unions
                .retain(|name, _| !replacements.contains_key(name)),
        }
        visit_types(&mut self.model.structs, &mut |ty| {
            let name = match (kind, &*ty) {
                (Named::Struct, Ty::Struct(name)) | (Named::Union, Ty::Union(name)) => name,
                _ => return,
            };
            if let Some(replacement) = replacements.get(name) {
                *ty = replacement.clone();
            }
        });
    }

    fn canonical(&self, name: &str) -> String {
        let mut name = name.to_owned();
        while let Some(next) = self.renames.get(&name) {
            if *next == name {
                break;
            }
            name = next.clone();
        }
        name
    }

    /// Records that two types are one; returns the surviving name.
    fn unify(&mut self, a: &str, b: &str) -> String {
        let (a, b) = (self.canonical(a), self.canonical(b));
        if a == b {
            return a;
        }
        let score = |n: &str| {
            (
                !self.place_names.contains(n),
                self.model.structs.get(n).map_or(0, |s| s.occurrences),
                std::cmp::Reverse(n.len()),
            )
        };
        let (winner, loser) = if score(&a) >= score(&b) {
            (a, b)
        } else {
            (b, a)
        };
        self.renames.insert(loser, winner.clone());
        winner
    }

    /// Follows `$ref`s to the schema they name.
    fn resolve(&self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        while let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            match self.component(target) {
                Some(next) => schema = next,
                None => break,
            }
        }
        schema
    }

    fn component(&self, reference: &str) -> Option<&'a Value> {
        self.components.get(ref_name(reference))
    }

    /// The properties of an object schema, merging `allOf` branches.
    fn parts(&self, schema: &'a Value) -> Parts<'a> {
        let schema = self.resolve(schema);
        let mut parts = Parts {
            description: schema
                .get("description")
                .and_then(Value::as_str)
                .and_then(docs::summary),
            ..Parts::default()
        };
        if let Some(branches) = schema.get("allOf").and_then(Value::as_array) {
            for branch in branches {
                let inner = self.parts(branch);
                parts.properties.extend(inner.properties);
                parts.required.extend(inner.required);
                if parts.description.is_none() {
                    parts.description = inner.description;
                }
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (key, value) in properties {
                parts.properties.insert(key.clone(), value);
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            parts
                .required
                .extend(required.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        parts
    }

    /// Records one occurrence of an object type.
    fn visit_parts(&mut self, parts: &Parts<'a>, name: &str) {
        if let Some(field) = traced(name)
            && !parts.required.contains(&field)
        {
            let keys: Vec<_> = parts.properties.keys().take(6).collect();
            eprintln!("trace: {name} occurrence not requiring {field}, properties {keys:?}...");
        }
        {
            let s = self.model.structs.entry(name.to_owned()).or_default();
            s.occurrences += 1;
            if !parts.required.is_empty() {
                s.declaring += 1;
            }
            if s.doc.is_none() {
                s.doc.clone_from(&parts.description);
            }
        }
        for (key, schema) in &parts.properties {
            let (ty, nullable) = self.classify(
                schema,
                Ctx {
                    parent: name,
                    key: key.as_str(),
                },
            );
            let doc = self.description(schema);
            let required = parts.required.contains(key);
            let existing = self
                .model
                .structs
                .get_mut(name)
                .and_then(|s| s.fields.remove(key));
            let field = match existing {
                None => Field {
                    ty,
                    doc,
                    required: u32::from(required),
                    nullable,
                    relaxed: false,
                },
                Some(mut field) => {
                    let location = format!("{name}.{key}");
                    field.ty = self.merge(field.ty, ty, &location);
                    field.required += u32::from(required);
                    field.nullable |= nullable;
                    if field.doc.is_none() {
                        field.doc = doc;
                    }
                    field
                }
            };
            if let Some(s) = self.model.structs.get_mut(name) {
                s.fields.insert(key.clone(), field);
            }
        }
    }

    fn description(&self, schema: &'a Value) -> Option<String> {
        let own = schema
            .get("description")
            .and_then(Value::as_str)
            .and_then(docs::summary);
        own.or_else(|| {
            let resolved = self.resolve(schema);
            resolved
                .get("description")
                .and_then(Value::as_str)
                .and_then(docs::summary)
        })
    }

    /// The non-null JSON types a schema allows, and whether it allows `null`.
    fn types(schema: &Value) -> (Vec<&str>, bool) {
        let mut nullable = false;
        let mut types = Vec::new();
        match schema.get("type") {
            Some(Value::String(t)) => types.push(t.as_str()),
            Some(Value::Array(list)) => types.extend(list.iter().filter_map(Value::as_str)),
            _ => {}
        }
        types.retain(|t| {
            let null = *t == "null";
            nullable |= null;
            !null
        });
        if let Some(values) = schema.get("enum").and_then(Value::as_array)
            && values.iter().any(Value::is_null)
        {
            nullable = true;
        }
        (types, nullable)
    }

    /// Whether a schema describes an object with properties.
    fn is_object(&self, schema: &'a Value) -> bool {
        let schema = self.resolve(schema);
        schema.get("properties").is_some()
            || schema
                .get("allOf")
                .and_then(Value::as_array)
                .is_some_and(|b| b.iter().any(|b| self.is_object(b)))
            || ["oneOf", "anyOf"].iter().any(|k| {
                schema.get(*k).and_then(Value::as_array).is_some_and(|b| {
                    let branches: Vec<_> = b.iter().filter(|b| !self.is_null(b)).collect();
                    !branches.is_empty() && branches.iter().all(|b| self.is_object(b))
                })
            })
    }

    fn is_null(&self, schema: &'a Value) -> bool {
        let schema = self.resolve(schema);
        let (types, nullable) = Self::types(schema);
        nullable
            && types.is_empty()
            && schema.get("properties").is_none()
            && schema.get("enum").is_none()
    }

    /// The canonical type name of an object schema at a place.
    fn object_name(&mut self, schema: &'a Value, ctx: Ctx<'_>) -> String {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return names::component_type_name(ref_name(reference));
        }
        if let Some(branches) = schema.get("allOf").and_then(Value::as_array)
            && schema.get("title").is_none()
            && let Some(first) = branches.first()
            && first.get("$ref").is_some()
        {
            return self.object_name(first, ctx);
        }
        let (name, place) = names::inline_type_name(
            schema.get("title").and_then(Value::as_str),
            ctx.parent,
            ctx.key,
        );
        if place {
            self.place_names.insert(name.clone());
        }
        name
    }

    /// Classifies a schema: its type and whether it allows `null`.
    fn classify(&mut self, schema: &'a Value, ctx: Ctx<'_>) -> (Ty, bool) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let component = ref_name(reference).to_owned();
            if let Some(known) = self.refs.get(&component) {
                return known.clone();
            }
            let Some(target) = self.component(reference) else {
                return (Ty::Any, true);
            };
            if self.is_object(target) && target.get("oneOf").is_none() {
                let name = names::component_type_name(&component);
                let nullable = Self::types(target).1;
                self.refs
                    .insert(component, (Ty::Struct(name.clone()), nullable));
                let parts = self.parts(target);
                self.visit_parts(&parts, &name);
                return (Ty::Struct(name), nullable);
            }
            // Scalars, enums and unions named by the schema keep that name.
            let name = names::component_type_name(&component);
            let result = self.classify(
                target,
                Ctx {
                    parent: &name,
                    key: "",
                },
            );
            self.refs.insert(component, result.clone());
            return result;
        }
        let (types, mut nullable) = Self::types(schema);
        if let Some(branches) = schema.get("allOf").and_then(Value::as_array) {
            if branches.len() == 1 && schema.get("properties").is_none() {
                let (ty, inner) = self.classify(&branches[0], ctx);
                return (ty, nullable || inner);
            }
            let name = self.object_name(schema, ctx);
            let parts = self.parts(schema);
            self.visit_parts(&parts, &name);
            return (Ty::Struct(name), nullable);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                let (ty, inner) = self.classify_union(branches, ctx);
                return (ty, nullable || inner);
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            match types.first().copied() {
                Some("boolean") => return (Ty::Bool, nullable),
                Some("integer") => return (Ty::Int, nullable),
                Some("number") => return (Ty::Float, nullable),
                _ => {}
            }
            let (name, place) = names::enum_name(ctx.parent, ctx.key);
            if place {
                self.place_names.insert(name.clone());
            }
            let e = self.model.enums.entry(name.clone()).or_default();
            if e.doc.is_none() {
                e.doc = schema
                    .get("description")
                    .and_then(Value::as_str)
                    .and_then(docs::summary);
            }
            e.values
                .extend(values.iter().filter_map(Value::as_str).map(str::to_owned));
            return (Ty::Enum(name), nullable);
        }
        if schema.get("properties").is_some() {
            let name = self.object_name(schema, ctx);
            let parts = self.parts(schema);
            self.visit_parts(&parts, &name);
            return (Ty::Struct(name), nullable);
        }
        let mut tys = Vec::new();
        for t in &types {
            let ty = match *t {
                "string" if schema.get("format").and_then(Value::as_str) == Some("date-time") => {
                    Ty::Timestamp
                }
                "string" => Ty::Str,
                "integer" => Ty::Int,
                "number" => Ty::Float,
                "boolean" => Ty::Bool,
                "array" => {
                    let item_key = names::singular(ctx.key);
                    match schema.get("items") {
                        Some(items) => {
                            let (item, item_null) = self.classify(
                                items,
                                Ctx {
                                    parent: ctx.parent,
                                    key: &item_key,
                                },
                            );
                            Ty::Array(Box::new(wrap_option(item, item_null)))
                        }
                        None => Ty::Array(Box::new(Ty::Any)),
                    }
                }
                "object" => match schema.get("additionalProperties") {
                    Some(values @ Value::Object(inner)) if !inner.is_empty() => {
                        let (value, value_null) = self.classify(values, ctx);
                        Ty::Map(Box::new(wrap_option(value, value_null)))
                    }
                    _ => Ty::Object,
                },
                _ => Ty::Any,
            };
            tys.push(ty);
        }
        if tys.is_empty() && types.is_empty() && schema.as_object().is_some_and(|o| o.is_empty()) {
            nullable = true;
        }
        let ty = match tys.len() {
            0 => Ty::Any,
            1 => tys.remove(0),
            _ => scalar_union(&tys),
        };
        (ty, nullable)
    }

    /// `oneOf` / `anyOf`.
    fn classify_union(&mut self, branches: &'a [Value], ctx: Ctx<'_>) -> (Ty, bool) {
        let mut nullable = false;
        let live: Vec<&'a Value> = branches
            .iter()
            .filter(|b| {
                let null = self.is_null(b);
                nullable |= null;
                !null
            })
            .collect();
        match live.as_slice() {
            [] => return (Ty::Any, true),
            [only] => {
                let (ty, inner) = self.classify(only, ctx);
                return (ty, nullable || inner);
            }
            _ => {}
        }
        if live.iter().all(|b| self.is_object(b)) {
            let named: Vec<String> = live.iter().map(|b| self.object_name(b, ctx)).collect();
            let mut distinct: Vec<String> = Vec::new();
            for name in &named {
                if !distinct.contains(name) {
                    distinct.push(name.clone());
                }
            }
            let mut branch_null = false;
            for (branch, name) in live.iter().zip(&named) {
                let resolved = self.resolve(branch);
                branch_null |= Self::types(resolved).1;
                if let Some(reference) = branch.get("$ref").and_then(Value::as_str) {
                    let component = ref_name(reference).to_owned();
                    if self.refs.contains_key(&component) {
                        continue;
                    }
                    self.refs
                        .insert(component, (Ty::Struct(name.clone()), branch_null));
                }
                let parts = self.parts(branch);
                self.visit_parts(&parts, name);
            }
            if distinct.len() == 1 {
                return (Ty::Struct(distinct.remove(0)), nullable || branch_null);
            }
            let name = names::union_name(ctx.parent, ctx.key, &distinct);
            let u = self.model.unions.entry(name.clone()).or_default();
            for variant in distinct {
                if !u.variants.contains(&variant) {
                    u.variants.push(variant);
                }
            }
            return (Ty::Union(name), nullable || branch_null);
        }
        let mut tys = Vec::new();
        for branch in live {
            let (ty, inner) = self.classify(branch, ctx);
            nullable |= inner;
            tys.push(ty);
        }
        (scalar_union(&tys), nullable)
    }

    /// Merges two occurrences' types of one field.
    fn merge(&mut self, a: Ty, b: Ty, location: &str) -> Ty {
        use Ty::*;
        match (a, b) {
            (a, b) if a == b => a,
            (Any, _) | (_, Any) => Any,
            (Option(a), Option(b)) => Option(Box::new(self.merge(*a, *b, location))),
            (Option(a), b) | (b, Option(a)) => Option(Box::new(self.merge(*a, b, location))),
            (Int, Float) | (Float, Int) => Float,
            (Timestamp, Int | Str | IntOrStr) | (Int | Str | IntOrStr, Timestamp) => Timestamp,
            (Int | Str | IntOrStr, Int | Str | IntOrStr) => IntOrStr,
            (Enum(e), Str) | (Str, Enum(e)) => Enum(e),
            (Array(a), Array(b)) => Array(Box::new(self.merge(*a, *b, location))),
            (Map(a), Map(b)) => Map(Box::new(self.merge(*a, *b, location))),
            (Struct(s), Object | Map(_)) | (Object | Map(_), Struct(s)) => {
                if traced(&s).is_some() {
                    eprintln!("trace: {s} merged with a free-form object at {location}");
                }
                // A free-form occurrence guarantees none of the struct's fields.
                if let Some(st) = self.model.structs.get_mut(&s) {
                    st.occurrences += 1;
                }
                Struct(s)
            }
            (Object, Map(_)) | (Map(_), Object) => Object,
            (Struct(a), Struct(b)) => Struct(self.unify(&a, &b)),
            (Enum(a), Enum(b)) => Enum(self.unify(&a, &b)),
            (Union(u), Struct(s)) | (Struct(s), Union(u))
                if self
                    .model
                    .unions
                    .get(&u)
                    .is_some_and(|x| x.variants.contains(&s)) =>
            {
                Union(u)
            }
            (a, b) => {
                self.model
                    .conflicts
                    .push(format!("{location}: {a:?} vs {b:?}"));
                Any
            }
        }
    }
}

/// Calls `f` on the type of every field of every struct, and on the types nested
/// in it (array items, map values, options, changes).
fn visit_types(structs: &mut BTreeMap<String, Struct>, f: &mut impl FnMut(&mut Ty)) {
    fn walk(ty: &mut Ty, f: &mut impl FnMut(&mut Ty)) {
        f(ty);
        if let Ty::Array(inner) | Ty::Map(inner) | Ty::Option(inner) | Ty::Change(inner) = ty {
            walk(inner, f);
        }
    }
    for s in structs.values_mut() {
        for field in s.fields.values_mut() {
            walk(&mut field.ty, f);
        }
    }
}

/// Which named types a replacement stands for.
#[derive(Clone, Copy)]
enum Named {
    Struct,
    Union,
}

/// `XTASK_TRACE=Type.field` explains on stderr why a field ended up optional.
fn traced(type_name: &str) -> Option<String> {
    let trace = std::env::var("XTASK_TRACE").ok()?;
    let (ty, field) = trace.split_once('.')?;
    (ty == type_name).then(|| field.to_owned())
}

fn rename_ty(ty: &mut Ty, rename: &impl Fn(&mut String)) {
    match ty {
        Ty::Enum(n) | Ty::Struct(n) | Ty::Union(n) => rename(n),
        Ty::Array(inner) | Ty::Map(inner) | Ty::Option(inner) | Ty::Change(inner) => {
            rename_ty(inner, rename);
        }
        _ => {}
    }
}

fn wrap_option(ty: Ty, nullable: bool) -> Ty {
    if nullable {
        Ty::Option(Box::new(ty))
    } else {
        ty
    }
}

/// The type of a value that may be any of several scalar types.
fn scalar_union(tys: &[Ty]) -> Ty {
    let all = |f: fn(&Ty) -> bool| tys.iter().all(f);
    if all(|t| matches!(t, Ty::Int | Ty::Float)) {
        Ty::Float
    } else if all(|t| matches!(t, Ty::Int | Ty::Str | Ty::IntOrStr | Ty::Timestamp))
        && tys.contains(&Ty::Timestamp)
    {
        Ty::Timestamp
    } else if all(|t| matches!(t, Ty::Int | Ty::Str | Ty::IntOrStr)) {
        Ty::IntOrStr
    } else if all(|t| matches!(t, Ty::Str | Ty::Enum(_))) {
        tys.iter()
            .find(|t| matches!(t, Ty::Enum(_)))
            .cloned()
            .unwrap_or(Ty::Str)
    } else {
        Ty::Any
    }
}

fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// Type name for a component when nothing overrides it.
pub(crate) fn default_component_name(component: &str) -> String {
    let trimmed = component
        .trim_start_matches("webhooks_")
        .trim_start_matches("webhook-")
        .trim_start_matches("nullable-")
        .trim_end_matches("-webhooks");
    pascal(trimmed)
}
