//! Rust source for the model: shared objects, string enums, and the event payloads
//! with the `Event` enum. The output is formatted with rustfmt by the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::ident::{pascal, snake};
use crate::model::{Model, Struct, Ty};

/// The generated files, by name under `crates/octohook/src/events/generated/`.
pub(crate) fn emit(model: &Model, header: &str) -> BTreeMap<&'static str, String> {
    let boxed = recursive_fields(model);
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

    let mut objects = file_start(header, "Objects shared by the webhook payloads.");
    objects.push_str("use serde::Deserialize;\n\nuse super::enums::*;\n");
    let objects_start = objects.len();
    for (name, s) in &model.structs {
        if !event_types.contains(name.as_str()) {
            emit_struct(&mut objects, name, s, &boxed);
        }
    }
    for (name, u) in &model.unions {
        let doc = u.doc.clone().unwrap_or_else(|| {
            let list: Vec<String> = u.variants.iter().map(|v| format!("[`{v}`]")).collect();
            format!("One of {}, or other JSON.", list.join(", "))
        });
        doc_lines(&mut objects, &doc, "");
        objects.push_str("#[derive(Debug, Deserialize)]\n#[serde(untagged)]\n");
        let _ = writeln!(objects, "pub enum {name} {{");
        for variant in &u.variants {
            let _ = writeln!(
                objects,
                "    /// A [`{variant}`].\n    {variant}(Box<{variant}>),"
            );
        }
        objects.push_str("    /// A value that is none of the known types.\n    Other(serde_json::Value),\n}\n\n");
    }

    objects.insert_str(
        objects_start,
        &support_imports(&objects[objects_start..], &[]),
    );

    let mut enums = file_start(
        header,
        "String enums of the webhook payloads; each keeps values it does not know as `Unknown`.",
    );
    for (name, e) in &model.enums {
        if !action_enums.contains(name) {
            emit_enum(&mut enums, name, e.doc.as_deref(), &e.values);
        }
    }

    let mut payloads = file_start(
        header,
        "The payload of every webhook event, its actions, and the `Event` enum.",
    );
    payloads.push_str(
        "use bytes::Bytes;\nuse serde::Deserialize;\n\nuse super::enums::*;\nuse super::objects::*;\n\
         use crate::EventKind;\n",
    );
    let payloads_start = payloads.len();
    for (event_name, event) in &model.events {
        let Some(s) = model.structs.get(&event.type_name) else {
            continue;
        };
        let mut doc = event.doc.clone().unwrap_or_default();
        let _ = write!(doc, "\n\nThe payload of `{event_name}` deliveries.");
        let s_doc = Struct {
            doc: Some(doc),
            occurrences: s.occurrences,
            fields: BTreeMap::new(),
        };
        emit_struct_with_doc(
            &mut payloads,
            &event.type_name,
            s,
            s_doc.doc.as_deref(),
            &boxed,
        );
        if let Some(action) = Model::action_enum(event) {
            let doc = format!("The `action` of a `{event_name}` delivery.");
            emit_enum(&mut payloads, &action, Some(&doc), &event.actions);
        }
    }
    emit_event_enum(&mut payloads, model);
    let always = ["EventAction", "EventError", "Payload", "WebhookEvent"];
    payloads.insert_str(
        payloads_start,
        &support_imports(&payloads[payloads_start..], &always),
    );

    BTreeMap::from([
        ("objects.rs", objects),
        ("enums.rs", enums),
        ("payloads.rs", payloads),
    ])
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
    names.sort_unstable();
    format!("use crate::events::{{{}}};\n\n", names.join(", "))
}

fn file_start(header: &str, about: &str) -> String {
    format!("{header}\n//! {about}\n\n")
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
        if field.relaxed {
            doc.push_str(
                "\n\nOptional here although the schema requires it: payloads GitHub sent lack it or send `null`.",
            );
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

fn emit_event_enum(out: &mut String, model: &Model) {
    out.push_str(
        "/// A parsed webhook delivery: one variant per event, each holding its typed\n\
         /// [`Payload`] (which keeps the raw JSON), and [`Event::Unknown`] for events this\n\
         /// version does not know.\n\
         #[derive(Clone, Debug)]\n#[non_exhaustive]\npub enum Event {\n",
    );
    for (event_name, event) in &model.events {
        let variant = pascal(event_name);
        let _ = writeln!(out, "    /// `{event_name}`: [`{}`].", event.type_name);
        let _ = writeln!(out, "    {variant}(Payload<{}>),", event.type_name);
    }
    out.push_str(
        "    /// An event this version does not know, with its name and raw JSON payload.\n\
         Unknown {\n/// The event's name (`X-GitHub-Event`).\nkind: String,\n\
         /// The JSON payload.\nraw: Bytes,\n},\n}\n\n",
    );

    out.push_str("impl Event {\n");
    out.push_str(
        "/// Parses a payload into the typed variant of `kind`.\n\
         pub(crate) fn parse_kind(kind: &EventKind, raw: Bytes) -> Result<Self, EventError> {\n\
         Ok(match kind {\n",
    );
    for event_name in model.events.keys() {
        let variant = pascal(event_name);
        let _ = writeln!(
            out,
            "EventKind::{variant} => Self::{variant}(Payload::parse(raw)?),"
        );
    }
    out.push_str(
        "EventKind::Unknown(name) => Self::Unknown { kind: name.clone(), raw },\n})\n}\n\n",
    );

    out.push_str("/// The event's kind.\npub fn kind(&self) -> EventKind {\nmatch self {\n");
    for event_name in model.events.keys() {
        let variant = pascal(event_name);
        let _ = writeln!(out, "Self::{variant}(_) => EventKind::{variant},");
    }
    out.push_str("Self::Unknown { kind, .. } => EventKind::Unknown(kind.clone()),\n}\n}\n\n");

    out.push_str(
        "/// The payload's `action` (for an unknown event, `None`; read it from [`Event::raw`]).\n\
         pub fn action(&self) -> Option<&str> {\nmatch self {\n",
    );
    for event_name in model.events.keys() {
        let variant = pascal(event_name);
        let _ = writeln!(out, "Self::{variant}(p) => p.action_name(),");
    }
    out.push_str("Self::Unknown { .. } => None,\n}\n}\n\n");

    out.push_str("/// The JSON payload the event was parsed from.\npub fn raw(&self) -> &Bytes {\nmatch self {\n");
    for event_name in model.events.keys() {
        let variant = pascal(event_name);
        let _ = writeln!(out, "Self::{variant}(p) => p.raw(),");
    }
    out.push_str("Self::Unknown { raw, .. } => raw,\n}\n}\n}\n\n");

    out.push_str(
        "/// Every event this version types, with its actions (empty for events without one).\n\
         pub const SUPPORTED: &[(&str, &[&str])] = &[\n",
    );
    for (event_name, event) in &model.events {
        let actions: Vec<String> = event.actions.iter().map(|a| format!("\"{a}\"")).collect();
        let _ = writeln!(out, "(\"{event_name}\", &[{}]),", actions.join(", "));
    }
    out.push_str("];\n\n");

    for (event_name, event) in &model.events {
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
             fn action_name(&self) -> Option<&str> {{\n{action_name}\n}}\n}}\n\n"
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
}

/// Writes `text` as `///` lines, wrapped, never starting a line with a character
/// Markdown would read as a list, heading or quote.
fn doc_lines(out: &mut String, text: &str, indent: &str) {
    const WIDTH: usize = 92;
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            let _ = writeln!(out, "{indent}///");
        }
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let risky = word.starts_with(['-', '*', '+', '#', '>', '=', '|'])
                || (word.starts_with(|c: char| c.is_ascii_digit())
                    && (word.ends_with('.') || word.ends_with(')')));
            if !line.is_empty() && line.len() + word.len() + 1 > WIDTH - indent.len() && !risky {
                let _ = writeln!(out, "{indent}/// {line}");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            let _ = writeln!(out, "{indent}/// {line}");
        }
    }
}
