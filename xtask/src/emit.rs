//! Rust source for the model: shared objects, string enums, and the event payloads
//! with the `Event` enum. The output is formatted with rustfmt by the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::groups::{self, GROUPS};
use crate::ident::{pascal, snake};
use crate::model::{Model, Struct, Ty};

/// The generated files, by name under `crates/octohook/src/events/generated/`.
///
/// Every item lives in one module, chosen by the groups whose events reach it: the
/// module of its group when only one does, `objects.rs` / `enums.rs` when all do, and
/// otherwise a module for that set of groups (`pull_request_and_checks.rs`), compiled
/// when any of them is. So each `cfg` is on a module, never on an item.
pub(crate) fn emit(model: &Model, header: &str) -> Result<BTreeMap<String, String>, String> {
    let boxed = recursive_fields(model);
    let group_of = groups::of_events(model)?;
    let reached = groups::of_types(model, &group_of);
    let all: BTreeSet<usize> = (0..GROUPS.len()).collect();
    let event_types: BTreeSet<&str> = model
        .events
        .values()
        .map(|e| e.type_name.as_str())
        .collect();
    let action_enums: BTreeSet<String> = model
        .events
        .values()
        .filter_map(Model::action_enum)
        .collect();

    // The module of every item that is not an event's own.
    let mut modules: BTreeMap<BTreeSet<usize>, Items<'_>> = BTreeMap::new();
    // Nothing reaches an item only if it is a merged-away leftover: keep it.
    let set_of = |name: &str| reached.get(name).cloned().unwrap_or_else(|| all.clone());
    for name in model.structs.keys().chain(model.unions.keys()) {
        if !event_types.contains(name.as_str()) {
            modules.entry(set_of(name)).or_default().objects.push(name);
        }
    }
    for name in model.enums.keys() {
        if !action_enums.contains(name) {
            modules.entry(set_of(name)).or_default().enums.push(name);
        }
    }
    for (event_name, event) in &model.events {
        if model.structs.contains_key(&event.type_name) {
            let set = BTreeSet::from([group_of[event_name]]);
            modules.entry(set).or_default().events.push(event_name);
        }
    }

    // An event's own types must be used by its group alone: they live in its module.
    for (event_name, event) in &model.events {
        let own = BTreeSet::from([group_of[event_name]]);
        for name in std::iter::once(event.type_name.clone()).chain(Model::action_enum(event)) {
            if reached.get(&name).is_some_and(|set| *set != own) {
                return Err(format!(
                    "{name}, a type of event {event_name}, is used by the events of other \
                     groups too; give it its own name (xtask/src/names.rs)"
                ));
            }
        }
    }

    // What every group uses, unconditionally, in two files as it is large.
    let mut files = BTreeMap::new();
    let shared = modules.remove(&all).unwrap_or_default();
    let objects = Items {
        objects: shared.objects,
        ..Items::default()
    };
    let about = "Objects that the events of every group use.";
    files.insert(
        "objects.rs".to_owned(),
        emit_module(model, header, about, &objects, &boxed),
    );
    let enums = Items {
        enums: shared.enums,
        ..Items::default()
    };
    let about = "String enums that the events of every group use; each keeps values it does \
                 not know as `Unknown`.";
    files.insert(
        "enums.rs".to_owned(),
        emit_module(model, header, about, &enums, &boxed),
    );

    let mut roots = Vec::new();
    for (set, items) in &modules {
        let module = module_name(set);
        let about = match set.iter().collect::<Vec<_>>().as_slice() {
            [only] => format!(
                "{}: the events of feature `{}`, their actions, and the objects and enums \
                 only they use.",
                GROUPS[**only].about,
                GROUPS[**only].feature()
            ),
            _ => format!(
                "Objects and enums that the events of {} use, and no other group's.",
                features_list(set)
            ),
        };
        files.insert(
            format!("{module}.rs"),
            emit_module(model, header, &about, items, &boxed),
        );
        roots.push((module, cfg_of(set)));
    }
    files.insert(
        "event.rs".to_owned(),
        emit_event_enum(model, header, &group_of),
    );
    files.insert("mod.rs".to_owned(), emit_root(header, &roots));
    Ok(files)
}

/// The items of one generated module.
#[derive(Default)]
struct Items<'m> {
    /// Events (by name): their payload struct, action enum and trait impls.
    events: Vec<&'m str>,
    /// Structs and unions.
    objects: Vec<&'m str>,
    enums: Vec<&'m str>,
}

/// The module of a set of groups: `pull_request`, `pull_request_and_checks`,
/// `pull_request_issues_and_checks`.
fn module_name(set: &BTreeSet<usize>) -> String {
    let names: Vec<String> = set.iter().map(|g| GROUPS[*g].module()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}_and_{last}", rest.join("_")),
        _ => names.concat(),
    }
}

/// `#[cfg(..)]` for a set of groups (never the set of all groups).
fn cfg_of(set: &BTreeSet<usize>) -> String {
    let features: Vec<String> = set
        .iter()
        .map(|g| format!("feature = \"{}\"", GROUPS[*g].feature()))
        .collect();
    if let [only] = features.as_slice() {
        format!("#[cfg({only})]")
    } else {
        format!("#[cfg(any({}))]", features.join(", "))
    }
}

/// A module's source: its items, and exactly the imports they need (an unused
/// import would warn in some feature combinations).
fn emit_module(
    model: &Model,
    header: &str,
    about: &str,
    items: &Items<'_>,
    boxed: &BTreeSet<(String, String)>,
) -> String {
    let mut out = file_start(header, about);
    let body_start = out.len();
    for event_name in &items.events {
        emit_event(&mut out, model, event_name, boxed);
    }
    for name in &items.objects {
        emit_object(&mut out, model, name, boxed);
    }
    for name in &items.enums {
        let e = &model.enums[*name];
        emit_enum(&mut out, name, e.doc.as_deref(), &e.values);
    }

    let mut defined: BTreeSet<String> = BTreeSet::new();
    for event_name in &items.events {
        let event = &model.events[*event_name];
        defined.insert(event.type_name.clone());
        defined.extend(Model::action_enum(event));
    }
    defined.extend(items.objects.iter().map(|n| (*n).to_owned()));
    defined.extend(items.enums.iter().map(|n| (*n).to_owned()));
    let mut referenced = Vec::new();
    for name in &defined {
        if let Some(s) = model.structs.get(name) {
            for field in s.fields.values() {
                groups::named_types(&field.ty, &mut referenced);
            }
        }
        if let Some(u) = model.unions.get(name) {
            referenced.extend(u.variants.iter().cloned());
        }
    }
    let mut uses = String::new();
    if !items.events.is_empty() || !items.objects.is_empty() {
        uses.push_str("use serde::Deserialize;\n\n");
    }
    let has_structs = items
        .events
        .iter()
        .any(|e| model.structs.contains_key(&model.events[*e].type_name))
        || items.objects.iter().any(|o| model.structs.contains_key(*o));
    if has_structs {
        uses.push_str("use crate::events::shape;\n");
    }
    if referenced.iter().any(|n| !defined.contains(n)) {
        uses.push_str("use super::*;\n");
    }
    let mut always = Vec::new();
    if !items.events.is_empty() {
        uses.push_str("use crate::EventKind;\n");
        always.extend(["Event", "Payload", "WebhookEvent"]);
        if items
            .events
            .iter()
            .any(|e| Model::action_enum(&model.events[*e]).is_some())
        {
            always.push("EventAction");
        }
    }
    uses.push_str(&support_imports(&out[body_start..], &always));
    if !uses.is_empty() && !uses.ends_with("\n\n") {
        uses.push('\n');
    }
    out.insert_str(body_start, &uses);
    out
}

/// `events-a`, `events-b` and `events-c`.
fn features_list(set: &BTreeSet<usize>) -> String {
    let names: Vec<String> = set
        .iter()
        .map(|g| format!("`{}`", GROUPS[*g].feature()))
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// A shared or group-private object: a struct or a union.
fn emit_object(out: &mut String, model: &Model, name: &str, boxed: &BTreeSet<(String, String)>) {
    if let Some(s) = model.structs.get(name) {
        emit_struct(out, name, s, boxed);
        return;
    }
    let Some(u) = model.unions.get(name) else {
        return;
    };
    let doc = u.doc.clone().unwrap_or_else(|| {
        let list: Vec<String> = u.variants.iter().map(|v| format!("[`{v}`]")).collect();
        format!("One of {}, or other JSON.", list.join(", "))
    });
    doc_lines(out, &doc, "");
    out.push_str("#[derive(Debug, Deserialize)]\n#[serde(untagged)]\n");
    let _ = writeln!(out, "pub enum {name} {{");
    for variant in &u.variants {
        let _ = writeln!(
            out,
            "    /// A [`{variant}`].\n    {variant}(Box<{variant}>),"
        );
    }
    out.push_str(
        "    /// A value that is none of the known types.\n    Other(serde_json::Value),\n}\n\n",
    );
}

/// An event's payload struct, its action enum, and their trait impls.
fn emit_event(
    out: &mut String,
    model: &Model,
    event_name: &str,
    boxed: &BTreeSet<(String, String)>,
) {
    let event = &model.events[event_name];
    let Some(s) = model.structs.get(&event.type_name) else {
        return;
    };
    let mut doc = event.doc.clone().unwrap_or_default();
    let _ = write!(doc, "\n\nThe payload of `{event_name}` deliveries.");
    emit_struct_with_doc(out, &event.type_name, s, Some(&doc), boxed);
    if let Some(action) = Model::action_enum(event) {
        let doc = format!("The `action` of a `{event_name}` delivery.");
        emit_enum(out, &action, Some(&doc), &event.actions);
    }
    emit_event_impls(out, model, event_name);
}

/// `generated/mod.rs`: the modules, those of groups and sets of groups behind their
/// features.
fn emit_root(header: &str, modules: &[(String, String)]) -> String {
    let mut out = file_start(
        header,
        "The generated payload types: one module per group of events (compiled with its \
         `events-<group>` feature), modules of what several groups share (compiled with any \
         of them), what all share (`objects`, `enums`), and the `Event` enum.",
    );
    out.push_str(
        "mod enums;\nmod event;\nmod objects;\n\n\
         pub use enums::*;\npub use event::*;\npub use objects::*;\n",
    );
    for (module, cfg) in modules {
        let _ = writeln!(out, "\n{cfg}\nmod {module};\n{cfg}\npub use {module}::*;");
    }
    out
}

/// The `[features]` lines of the groups in `crates/octohook/Cargo.toml`, between the
/// marker lines (which are part of it).
pub(crate) fn cargo_features(model: &Model) -> Result<String, String> {
    let group_of = groups::of_events(model)?;
    let mut out = String::from(CARGO_BEGIN);
    out.push('\n');
    let features: Vec<String> = GROUPS
        .iter()
        .map(|g| format!("\"{}\"", g.feature()))
        .collect();
    let _ = writeln!(
        out,
        "## Typed payloads for every webhook event (`octohook::events`) and the typed\n\
         ## `Dispatcher`: all the `events-*` groups below.\n\
         events = [\n    {},\n]",
        features.join(",\n    ")
    );
    let _ = writeln!(
        out,
        "## The events machinery without any event: `Event`, `Payload`, the `Dispatcher`\n\
         ## and `VerifiedDelivery::event`. Every event then parses to `Event::Unknown`.\n\
         ## Each `events-*` group enables it.\n\
         events-core = []"
    );
    for (g, group) in GROUPS.iter().enumerate() {
        let mut doc = String::new();
        doc_lines_with(
            &mut doc,
            &format!("{}: {}.", group.about, events_of_group(&group_of, g)),
            "## ",
        );
        let _ = writeln!(out, "{doc}{} = [\"events-core\"]", group.feature());
    }
    out.push_str(CARGO_END);
    Ok(out)
}

/// The events of the group at `index` of [`GROUPS`], as code: `` `push`, `create` ``.
fn events_of_group(group_of: &BTreeMap<String, usize>, index: usize) -> String {
    group_of
        .iter()
        .filter(|(_, of)| **of == index)
        .map(|(event, _)| format!("`{event}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The marker lines around the generated part of `[features]`.
pub(crate) const CARGO_BEGIN: &str =
    "# Event groups: generated by `cargo run -p xtask -- codegen` from xtask/src/groups.rs.";
/// The end marker.
pub(crate) const CARGO_END: &str = "# End of the generated event groups.";

/// The Markdown table of groups for the `events` module's documentation.
pub(crate) fn groups_doc(model: &Model) -> Result<String, String> {
    let group_of = groups::of_events(model)?;
    let mut out = String::from(
        "<!-- @generated by `cargo run -p xtask -- codegen` from xtask/src/groups.rs. -->\n\n\
         | Feature | Events |\n|---|---|\n",
    );
    for (g, group) in GROUPS.iter().enumerate() {
        let events = events_of_group(&group_of, g);
        let _ = writeln!(out, "| `{}` | {events} |", group.feature());
    }
    Ok(out)
}

/// The `use crate::events::{..}` line for the hand-written helpers a file uses.
fn support_imports(body: &str, always: &[&str]) -> String {
    let mut names: Vec<&str> = always.to_vec();
    if body.contains("Change<") {
        names.push("Change");
    }
    if body.contains("IntOrString") {
        names.push("IntOrString");
    }
    if body.contains(": Timestamp") || body.contains("<Timestamp") {
        names.push("Timestamp");
    }
    names.sort_unstable();
    if names.is_empty() {
        return String::new();
    }
    format!("use crate::events::{{{}}};\n\n", names.join(", "))
}

fn file_start(header: &str, about: &str) -> String {
    let mut out = format!("{header}\n");
    doc_lines_with(&mut out, about, "//! ");
    out.push('\n');
    out
}

/// Struct fields that must be boxed because their type contains the struct.
fn recursive_fields(model: &Model) -> BTreeSet<(String, String)> {
    let direct = |ty: &Ty| -> Option<String> {
        let mut ty = ty;
        loop {
            match ty {
                Ty::Struct(n) => return Some(n.clone()),
                Ty::Option(inner) | Ty::Change(inner) => ty = inner,
                _ => return None,
            }
        }
    };
    let edges: BTreeMap<&str, Vec<(String, String)>> = model
        .structs
        .iter()
        .map(|(name, s)| {
            let targets = s
                .fields
                .iter()
                .filter_map(|(key, f)| direct(&f.ty).map(|t| (key.clone(), t)))
                .collect();
            (name.as_str(), targets)
        })
        .collect();
    let reaches = |from: &str, to: &str| -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(node) = stack.pop() {
            if node == to {
                return true;
            }
            if seen.insert(node.clone()) {
                for (_, next) in edges.get(node.as_str()).into_iter().flatten() {
                    stack.push(next.clone());
                }
            }
        }
        false
    };
    let mut boxed = BTreeSet::new();
    for (name, targets) in &edges {
        for (key, target) in targets {
            if reaches(target, name) {
                boxed.insert(((*name).to_owned(), key.clone()));
            }
        }
    }
    boxed
}

fn rust_type(ty: &Ty) -> String {
    match ty {
        Ty::Any => "serde_json::Value".into(),
        Ty::Bool => "bool".into(),
        Ty::Int => "i64".into(),
        Ty::Float => "f64".into(),
        Ty::Str => "String".into(),
        Ty::IntOrStr => "IntOrString".into(),
        Ty::Timestamp => "Timestamp".into(),
        Ty::Object => "serde_json::Map<String, serde_json::Value>".into(),
        Ty::Enum(n) | Ty::Struct(n) | Ty::Union(n) => n.clone(),
        Ty::Array(inner) => format!("Vec<{}>", rust_type(inner)),
        Ty::Map(inner) => format!("std::collections::BTreeMap<String, {}>", rust_type(inner)),
        Ty::Option(inner) => format!("Option<{}>", rust_type(inner)),
        Ty::Change(inner) => format!("Change<{}>", rust_type(inner)),
    }
}

fn emit_struct(out: &mut String, name: &str, s: &Struct, boxed: &BTreeSet<(String, String)>) {
    let doc = s
        .doc
        .clone()
        .unwrap_or_else(|| format!("The `{}` object.", snake(name).trim_start_matches("r#")));
    emit_struct_with_doc(out, name, s, Some(&doc), boxed);
}

fn emit_struct_with_doc(
    out: &mut String,
    name: &str,
    s: &Struct,
    doc: Option<&str>,
    boxed: &BTreeSet<(String, String)>,
) {
    doc_lines(out, doc.unwrap_or(name), "");
    // Only what parsing needs: every derive costs build time over ~400 types.
    out.push_str("#[derive(Debug, Deserialize)]\n#[non_exhaustive]\n");
    let _ = writeln!(out, "pub struct {name} {{");
    let mut used = BTreeSet::new();
    for (key, field) in &s.fields {
        let mut ident = snake(key);
        while !used.insert(ident.clone()) {
            ident.push('_');
        }
        let mut doc = field
            .doc
            .clone()
            .unwrap_or_else(|| format!("The `{key}` property."));
        if s.optional(field) {
            doc.push_str(if field.relaxed {
                "\n\nOptional: payloads GitHub sent lack it or send `null` (see the README, \"Typed events\")."
            } else if field.nullable {
                "\n\nOptional: the schema allows `null`."
            } else if field.required == 0 {
                "\n\nOptional: no schema variant requires it."
            } else {
                "\n\nOptional: not every schema variant, or every place the object appears, requires it."
            });
        }
        doc_lines(out, &doc, "    ");
        if ident.trim_start_matches("r#") != key {
            let _ = writeln!(out, "    #[serde(rename = \"{}\")]", key.escape_default());
        }
        let mut ty = rust_type(&field.ty);
        if boxed.contains(&(name.to_owned(), key.clone())) {
            ty = format!("Box<{ty}>");
        }
        if s.optional(field) {
            ty = format!("Option<{ty}>");
        }
        let _ = writeln!(out, "    pub {ident}: {ty},");
    }
    out.push_str("}\n\n");
    emit_shape(out, name, s);
}

/// The name of a struct's shape static: `PullRequest` → `PULL_REQUEST_SHAPE`.
fn shape_name(name: &str) -> String {
    format!(
        "{}_SHAPE",
        snake(name).trim_start_matches("r#").to_uppercase()
    )
}

/// The shape of a struct (`crate::events::shape`): what each field accepts, for
/// parsing that lets an odd field give way.
fn emit_shape(out: &mut String, name: &str, s: &Struct) {
    let _ = writeln!(
        out,
        "/// What [`{name}`] accepts, field by field.\n\
         #[doc(hidden)]\n\
         pub static {}: shape::Shape = shape::Shape {{ fields: &[",
        shape_name(name)
    );
    for (key, field) in &s.fields {
        let _ = writeln!(
            out,
            "    shape::Field {{ name: \"{}\", optional: {}, ty: &{} }},",
            key.escape_default(),
            s.optional(field),
            shape_ty(&field.ty)
        );
    }
    out.push_str("]};\n\n");
}

fn shape_ty(ty: &Ty) -> String {
    match ty {
        Ty::Any | Ty::Union(_) => "shape::Ty::Any".into(),
        Ty::Bool => "shape::Ty::Bool".into(),
        Ty::Int => "shape::Ty::Int".into(),
        Ty::Float => "shape::Ty::Float".into(),
        Ty::Str | Ty::Enum(_) => "shape::Ty::Str".into(),
        Ty::IntOrStr | Ty::Timestamp => "shape::Ty::IntOrStr".into(),
        Ty::Object => "shape::Ty::Object".into(),
        Ty::Struct(n) => format!("shape::Ty::Struct(&{})", shape_name(n)),
        Ty::Array(inner) => format!("shape::Ty::Array(&{})", shape_ty(inner)),
        Ty::Map(inner) => format!("shape::Ty::Map(&{})", shape_ty(inner)),
        Ty::Option(inner) => format!("shape::Ty::Option(&{})", shape_ty(inner)),
        Ty::Change(inner) => format!("shape::Ty::Change(&{})", shape_ty(inner)),
    }
}

fn emit_enum(out: &mut String, name: &str, doc: Option<&str>, values: &BTreeSet<String>) {
    out.push_str("string_enum! {\n");
    doc_lines(
        out,
        doc.unwrap_or(&format!("The values of `{name}`.")),
        "    ",
    );
    let _ = writeln!(out, "    pub enum {name} {{");
    let mut used = BTreeSet::from(["Unknown".to_owned()]);
    for value in values {
        let mut variant = pascal(value);
        while !used.insert(variant.clone()) {
            variant.push('_');
        }
        let _ = writeln!(
            out,
            "        /// `{}`\n        {variant} = \"{}\",",
            value.replace('`', "'"),
            value.escape_default()
        );
    }
    out.push_str("    }\n}\n\n");
}

/// `event.rs`: the `Event` enum over every event, each variant behind its group's
/// feature, and the list of supported events.
fn emit_event_enum(model: &Model, header: &str, group_of: &BTreeMap<String, usize>) -> String {
    let mut out = file_start(
        header,
        "The `Event` enum: one variant per event whose group is enabled.",
    );
    out.push_str(
        "use bytes::Bytes;\n\n\
         // With no group enabled, no payload type is.\n\
         #[allow(unused_imports)]\nuse super::*;\n\
         use crate::EventKind;\n\
         use crate::events::{EventError, FieldWarning};\n\
         #[allow(unused_imports)]\nuse crate::events::{Payload, WebhookEvent};\n\n",
    );
    let cfg = |event_name: &str| {
        format!(
            "#[cfg(feature = \"{}\")]\n",
            GROUPS[group_of[event_name]].feature()
        )
    };
    out.push_str(
        "/// A parsed webhook delivery: one variant per event, each holding its typed\n\
         /// [`Payload`] (which keeps the raw JSON), and [`Event::Unknown`] for other events.\n\
         ///\n\
         /// Each event's variant exists when the Cargo feature of its group is enabled\n\
         /// (`events-pull-request`, ...; `events`, the default, enables them all). The\n\
         /// events of disabled groups parse to [`Event::Unknown`].\n\
         #[derive(Clone, Debug)]\n#[non_exhaustive]\npub enum Event {\n",
    );
    for (event_name, event) in &model.events {
        let variant = pascal(event_name);
        let feature = GROUPS[group_of[event_name]].feature();
        doc_lines(
            &mut out,
            &format!(
                "`{event_name}`: [`{}`] (feature `{feature}`).",
                event.type_name
            ),
            "    ",
        );
        let _ = writeln!(
            out,
            "    {}    {variant}(Payload<{}>),",
            cfg(event_name),
            event.type_name
        );
    }
    out.push_str(
        "    /// An event this version does not know, or whose group's feature is not\n\
         /// enabled, with its name and raw JSON payload.\n\
         Unknown {\n/// The event's name (`X-GitHub-Event`).\nkind: String,\n\
         /// The JSON payload.\nraw: Bytes,\n},\n}\n\n",
    );

    out.push_str("impl Event {\n");
    out.push_str(
        "/// Parses a payload into the typed variant of `kind`.\n\
         pub(crate) fn parse_kind(kind: &EventKind, raw: Bytes, strict: bool) -> Result<Self, EventError> {\n\
         Ok(match kind {\n",
    );
    for event_name in model.events.keys() {
        let variant = pascal(event_name);
        let _ = writeln!(
            out,
            "{}EventKind::{variant} => Self::{variant}(Payload::parse_with(raw, strict)?),",
            cfg(event_name)
        );
    }
    out.push_str(
        "// Events this version does not know, and those of disabled groups (unreachable\n\
         // when every group is enabled).\n\
         #[allow(unreachable_patterns)]\n\
         _ => {\nlet _ = strict;\nSelf::Unknown { kind: kind.as_str().to_owned(), raw }\n}\n})\n}\n\n",
    );

    // The methods that match every variant: signature, the arm of each event's
    // variant (`{v}` stands for it), and the arm of `Event::Unknown`.
    let methods = [
        (
            "/// The event's kind.\npub fn kind(&self) -> EventKind",
            "Self::{v}(_) => EventKind::{v},",
            "Self::Unknown { kind, .. } => EventKind::from_name(kind),",
        ),
        (
            "/// The name of the event's variant: `PullRequest` for `Event::PullRequest(..)`,\n\
             /// `Unknown` for an event this version does not know.\n\
             pub fn variant_name(&self) -> &'static str",
            "Self::{v}(_) => \"{v}\",",
            "Self::Unknown { .. } => \"Unknown\",",
        ),
        (
            "/// The payload's `action` (for an unknown event, `None`; read it from [`Event::raw`]).\n\
             pub fn action(&self) -> Option<&str>",
            "Self::{v}(p) => p.action_name(),",
            "Self::Unknown { .. } => None,",
        ),
        (
            "/// The JSON payload the event was parsed from.\npub fn raw(&self) -> &Bytes",
            "Self::{v}(p) => p.raw(),",
            "Self::Unknown { raw, .. } => raw,",
        ),
        (
            "/// The fields that did not fit their type and gave way (see [`FieldWarning`]).\n\
             pub fn warnings(&self) -> &[FieldWarning]",
            "Self::{v}(p) => p.warnings(),",
            "Self::Unknown { .. } => &[],",
        ),
    ];
    for (signature, arm, unknown) in methods {
        let _ = writeln!(out, "{signature} {{\nmatch self {{");
        for event_name in model.events.keys() {
            let arm = arm.replace("{v}", &pascal(event_name));
            let _ = writeln!(out, "{}{arm}", cfg(event_name));
        }
        let _ = writeln!(out, "{unknown}\n}}\n}}\n");
    }
    out.push_str("}\n\n");

    out.push_str(
        "/// Every event this version types and whose group is enabled, with its actions\n\
         /// (empty for events without one).\n\
         pub const SUPPORTED: &[(&str, &[&str])] = &[\n",
    );
    for (event_name, event) in &model.events {
        let actions: Vec<String> = event.actions.iter().map(|a| format!("\"{a}\"")).collect();
        let _ = writeln!(
            out,
            "{}(\"{event_name}\", &[{}]),",
            cfg(event_name),
            actions.join(", ")
        );
    }
    out.push_str("];\n");
    out
}

/// The `WebhookEvent` impl of an event's payload and the `EventAction` impl of its
/// action enum.
fn emit_event_impls(out: &mut String, model: &Model, event_name: &str) {
    let event = &model.events[event_name];
    let variant = pascal(event_name);
    let ty = &event.type_name;
    let action_field = model
        .structs
        .get(ty)
        .and_then(|s| s.fields.get("action").map(|f| s.optional(f)));
    let action_name = match (Model::action_enum(event), action_field) {
        (Some(_), Some(false)) => "Some(self.action.as_str())",
        (Some(_), Some(true)) => "self.action.as_ref().map(|a| a.as_str())",
        _ => "None",
    };
    let _ = write!(
        out,
        "impl WebhookEvent for {ty} {{\n\
         const KIND: EventKind = EventKind::{variant};\n\n\
         fn from_event(event: &Event) -> Option<&Payload<Self>> {{\n\
         match event {{\nEvent::{variant}(p) => Some(p),\n_ => None,\n}}\n}}\n\n\
         fn action_name(&self) -> Option<&str> {{\n{action_name}\n}}\n\n\
         const SHAPE: &'static shape::Shape = &{shape};\n\n\
         const IDENTIFYING: &'static [&'static str] = &[{identifying}];\n}}\n\n",
        shape = shape_name(ty),
        identifying = identifying(model, event_name)
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if let Some(action) = Model::action_enum(event) {
        let of = if action_field == Some(false) {
            "Some(&event.action)"
        } else {
            "event.action.as_ref()"
        };
        let _ = write!(
            out,
            "impl EventAction for {action} {{\n\
             type Event = {ty};\n\n\
             fn of(event: &{ty}) -> Option<&Self> {{\n{of}\n}}\n\n\
             fn as_str(&self) -> &str {{\nself.as_str()\n}}\n}}\n\n"
        );
    }
}

/// The JSON paths of the fields that identify an event and never give way: its
/// `action`, its `number`, and the `id` and `number` of its main object (the field
/// named after the event: `pull_request`, `issue` for `issues`, `comment` for
/// `issue_comment`, `review` for `pull_request_review`).
pub(crate) fn identifying(model: &Model, event_name: &str) -> Vec<String> {
    let event = &model.events[event_name];
    let Some(s) = model.structs.get(&event.type_name) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for key in ["action", "number"] {
        if s.fields.contains_key(key) {
            paths.push(key.to_owned());
        }
    }
    let last = event_name.rsplit('_').next().unwrap_or(event_name);
    let candidates = [
        event_name,
        event_name.strip_suffix('s').unwrap_or(event_name),
        last,
    ];
    let main = candidates.iter().find_map(|key| {
        let mut ty = &s.fields.get(*key)?.ty;
        while let Ty::Option(inner) = ty {
            ty = inner;
        }
        match ty {
            Ty::Struct(name) => Some((*key, model.structs.get(name)?)),
            _ => None,
        }
    });
    if let Some((key, main)) = main {
        for field in ["id", "number"] {
            if main.fields.contains_key(field) {
                paths.push(format!("{key}.{field}"));
            }
        }
    }
    paths
}

/// Writes `text` as `///` lines, wrapped, never starting a line with a character
/// Markdown would read as a list, heading or quote.
fn doc_lines(out: &mut String, text: &str, indent: &str) {
    doc_lines_with(out, text, &format!("{indent}/// "));
}

/// Writes `text` as lines starting with `prefix`, wrapped (see [`doc_lines`]).
fn doc_lines_with(out: &mut String, text: &str, prefix: &str) {
    const WIDTH: usize = 96;
    let blank = prefix.trim_end();
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            let _ = writeln!(out, "{blank}");
        }
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let risky = word.starts_with(['-', '*', '+', '#', '>', '=', '|'])
                || (word.starts_with(|c: char| c.is_ascii_digit())
                    && (word.ends_with('.') || word.ends_with(')')));
            if !line.is_empty() && line.len() + word.len() + 1 > WIDTH - prefix.len() && !risky {
                let _ = writeln!(out, "{prefix}{line}");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            let _ = writeln!(out, "{prefix}{line}");
        }
    }
}
