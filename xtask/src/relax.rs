//! Adapts the model to payloads GitHub really sent (`@octokit/webhooks-examples`).
//!
//! The schema describes today's payloads; recorded ones from older GitHub versions
//! lack some fields the schema requires, or send `null` where it allows none. Each
//! such field becomes an `Option` (its doc says why) instead of failing to parse
//! real traffic. Values of a different type than the schema says widen the field
//! (an integer seen as a string becomes `IntOrString`, anything else `Value`).

use serde_json::Value;

use crate::model::{Model, Ty};

/// What relaxing changed, one line per change, for the generator's report.
pub(crate) fn relax(model: &mut Model, examples: &Value) -> Result<Vec<String>, String> {
    let events = examples
        .as_array()
        .ok_or("the examples index is not an array")?;
    let mut log = Vec::new();
    for event in events {
        let name = event
            .get("name")
            .and_then(Value::as_str)
            .ok_or("an examples entry has no name")?;
        let type_name = model
            .events
            .get(name)
            .map(|e| e.type_name.clone())
            .ok_or(format!("examples name an event the schema lacks: {name}"))?;
        for example in event
            .get("examples")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut walker = Walker {
                model,
                log: &mut log,
            };
            walker.walk(example, &Ty::Struct(type_name.clone()), name);
        }
    }
    log.sort();
    log.dedup();
    Ok(log)
}

struct Walker<'m> {
    model: &'m mut Model,
    log: &'m mut Vec<String>,
}

impl Walker<'_> {
    /// Checks `value` against `ty`; returns the widened type when it does not fit.
    fn walk(&mut self, value: &Value, ty: &Ty, path: &str) -> Option<Ty> {
        match (ty, value) {
            (Ty::Any, _)
            | (Ty::Bool, Value::Bool(_))
            | (Ty::Str, Value::String(_))
            | (Ty::Enum(_), Value::String(_))
            | (Ty::Object, Value::Object(_)) => None,
            (Ty::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => None,
            (Ty::Int, Value::Number(_)) => Some(Ty::Float),
            (Ty::Float, Value::Number(_)) => None,
            (Ty::IntOrStr | Ty::Timestamp, Value::String(_)) => None,
            (Ty::Timestamp, Value::Number(n)) if n.is_i64() => None,
            (Ty::Int, Value::String(_)) => Some(Ty::IntOrStr),
            (Ty::IntOrStr, Value::Number(n)) if n.is_i64() || n.is_u64() => None,
            (Ty::Str, Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Ty::IntOrStr),
            (Ty::Option(_), Value::Null) => None,
            (Ty::Option(inner), _) => self
                .walk(value, inner, path)
                .map(|t| Ty::Option(Box::new(t))),
            (Ty::Change(inner), Value::Object(map)) => {
                let from = map.get("from").unwrap_or(&Value::Null);
                match (&**inner, from) {
                    (Ty::Option(_), _) => self.walk(from, inner, path),
                    (_, Value::Null) => Some(Ty::Change(Box::new(Ty::Option(inner.clone())))),
                    _ => self
                        .walk(from, inner, path)
                        .map(|t| Ty::Change(Box::new(t))),
                }
            }
            (Ty::Array(inner), Value::Array(items)) => {
                let mut current = (**inner).clone();
                let mut changed = false;
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    let widened = if item.is_null() && !matches!(current, Ty::Option(_)) {
                        Some(Ty::Option(Box::new(current.clone())))
                    } else {
                        self.walk(item, &current, &item_path)
                    };
                    if let Some(widened) = widened {
                        current = widened;
                        changed = true;
                    }
                }
                changed.then(|| Ty::Array(Box::new(current)))
            }
            (Ty::Map(inner), Value::Object(map)) => {
                let mut current = (**inner).clone();
                let mut changed = false;
                for (key, item) in map {
                    if let Some(widened) = self.walk(item, &current, &format!("{path}.{key}")) {
                        current = widened;
                        changed = true;
                    }
                }
                changed.then(|| Ty::Map(Box::new(current)))
            }
            (Ty::Struct(name), Value::Object(_)) => {
                self.walk_struct(value, name, path);
                None
            }
            (Ty::Union(name), Value::Object(_)) => {
                let variants = self
                    .model
                    .unions
                    .get(name)
                    .map(|u| u.variants.clone())
                    .unwrap_or_default();
                let best = variants
                    .iter()
                    .min_by_key(|v| self.missing(value, v))
                    .cloned();
                if let Some(best) = best {
                    self.walk_struct(value, &best, path);
                }
                None
            }
            (other, _) => {
                self.log.push(format!(
                    "{path}: widened to any JSON value ({other:?} does not fit {value})"
                ));
                Some(Ty::Any)
            }
        }
    }

    /// How many required fields of struct `name` `value` lacks.
    fn missing(&self, value: &Value, name: &str) -> usize {
        let Some(s) = self.model.structs.get(name) else {
            return usize::MAX;
        };
        s.fields
            .iter()
            .filter(|(key, field)| {
                !s.optional(field) && value.get(key.as_str()).is_none_or(Value::is_null)
            })
            .count()
    }

    fn walk_struct(&mut self, value: &Value, name: &str, path: &str) {
        let Some(s) = self.model.structs.get(name) else {
            return;
        };
        let fields: Vec<(String, Ty, bool, bool)> = s
            .fields
            .iter()
            .map(|(k, f)| (k.clone(), f.ty.clone(), s.optional(f), f.nullable))
            .collect();
        for (key, ty, optional, nullable) in fields {
            let field_path = format!("{path}.{key}");
            match value.get(&key) {
                None if !optional => {
                    self.log
                        .push(format!("{name}.{key}: optional (absent at {field_path})"));
                    self.update(name, &key, |f| f.relaxed = true);
                }
                Some(Value::Null) if !nullable => {
                    self.log
                        .push(format!("{name}.{key}: nullable (null at {field_path})"));
                    self.update(name, &key, |f| {
                        f.nullable = true;
                        f.relaxed = true;
                    });
                }
                Some(Value::Null) | None => {}
                Some(inner) => {
                    if let Some(widened) = self.walk(inner, &ty, &field_path) {
                        self.log
                            .push(format!("{name}.{key}: {ty:?} widened to {widened:?}"));
                        self.update(name, &key, |f| f.ty = widened);
                    }
                }
            }
        }
    }

    fn update(&mut self, name: &str, key: &str, change: impl FnOnce(&mut crate::model::Field)) {
        if let Some(field) = self
            .model
            .structs
            .get_mut(name)
            .and_then(|s| s.fields.get_mut(key))
        {
            change(field);
        }
    }
}

/// Makes optional the fields that an evidence file of `corpora/` records as absent
/// (or `null`) in payloads GitHub sent: `{"absent": ["event path", ..], "null": [..]}`
/// with paths such as `installation_repositories repositories_added[].node_id`.
/// `observed.json` holds what captured deliveries showed, `documented.json` what
/// GitHub's own documentation showed in its early payload examples. `file` names
/// the file in errors, `seen` says where the absence was seen in the report. A path
/// the model does not have is an error, so the list cannot go stale silently.
pub(crate) fn relax_observed(
    model: &mut Model,
    evidence: &Value,
    file: &str,
    seen: &str,
) -> Result<Vec<String>, String> {
    let mut log = Vec::new();
    for (list, null) in [("absent", false), ("null", true)] {
        for entry in evidence
            .get(list)
            .and_then(Value::as_array)
            .ok_or(format!("{file} has no {list} list"))?
        {
            let entry = entry
                .as_str()
                .ok_or(format!("{file}: an entry is not a string"))?;
            let (event, path) = entry
                .split_once(' ')
                .ok_or(format!("{file}: `{entry}` is not `event path`"))?;
            let mut owner = model
                .events
                .get(event)
                .map(|e| e.type_name.clone())
                .ok_or(format!("{file}: no event {event}"))?;
            let steps: Vec<&str> = path.split('.').collect();
            let (last, parents) = steps.split_last().ok_or(format!("{file}: an empty path"))?;
            for step in parents {
                let key = step.trim_end_matches("[]");
                let ty = model
                    .structs
                    .get(&owner)
                    .and_then(|s| s.fields.get(key))
                    .map(|f| f.ty.clone())
                    .ok_or(format!("{file}: `{entry}`: {owner} has no {key}"))?;
                owner = struct_of(&ty)
                    .ok_or(format!("{file}: `{entry}`: {owner}.{key} is no object"))?;
            }
            let field = model
                .structs
                .get_mut(&owner)
                .and_then(|s| s.fields.get_mut(*last))
                .ok_or(format!("{file}: `{entry}`: {owner} has no {last}"))?;
            field.relaxed = true;
            field.nullable |= null;
            log.push(format!(
                "{owner}.{last}: optional ({list} in {seen} at {event} {path})"
            ));
        }
    }
    Ok(log)
}

/// The struct a type holds, through options, arrays, maps and changes.
fn struct_of(ty: &Ty) -> Option<String> {
    match ty {
        Ty::Struct(name) => Some(name.clone()),
        Ty::Option(inner) | Ty::Array(inner) | Ty::Map(inner) | Ty::Change(inner) => {
            struct_of(inner)
        }
        _ => None,
    }
}
