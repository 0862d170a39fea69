//! The evidence the event types are built from: every schema variant and every
//! example folder named in `corpora/sources.json`, installed by `npm ci` in `corpora/`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// A document of the corpora, by package and file.
pub(crate) struct Source {
    /// The npm package (or its alias in `corpora/package.json`) and the file in it.
    pub(crate) name: String,
    pub(crate) json: Value,
}

/// Everything `corpora/sources.json` lists, read.
pub(crate) struct Sources {
    /// OpenAPI documents with `webhooks` (`@octokit/openapi-webhooks` variants).
    pub(crate) schemas: Vec<Source>,
    /// OpenAPI-shaped documents made from the JSON Schemas of events that no OpenAPI
    /// variant describes (`content_reference`).
    pub(crate) json_schemas: Vec<Source>,
    /// `index.json` files of examples: `[{name, examples: [..]}]`.
    pub(crate) examples: Vec<Source>,
}

impl Sources {
    pub(crate) fn read(corpora: &Path) -> Result<Self, String> {
        let list = crate::read_json(&corpora.join("sources.json"))?;
        let modules = corpora.join("node_modules");
        let entries = |key: &str| -> Result<Vec<(String, PathBuf, &Value)>, String> {
            list.get(key)
                .and_then(Value::as_array)
                .ok_or(format!("corpora/sources.json has no {key} list"))?
                .iter()
                .map(|entry| {
                    let package = entry.get("package").and_then(Value::as_str);
                    let file = entry.get("file").and_then(Value::as_str);
                    match (package, file) {
                        (Some(p), Some(f)) => {
                            Ok((format!("{p}/{f}"), modules.join(p).join(f), entry))
                        }
                        _ => Err(format!("corpora/sources.json: {key} entry {entry}")),
                    }
                })
                .collect()
        };
        let mut schemas = Vec::new();
        for (name, path, _) in entries("schemas")? {
            schemas.push(Source {
                name,
                json: crate::read_json(&path)?,
            });
        }
        let mut json_schemas = Vec::new();
        for (name, path, entry) in entries("json_schemas")? {
            let events: Vec<&str> = entry
                .get("events")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let document = crate::read_json(&path)?;
            json_schemas.push(Source {
                json: as_openapi(&document, &events).map_err(|e| format!("{name}: {e}"))?,
                name,
            });
        }
        let mut examples = Vec::new();
        for (name, path, _) in entries("examples")? {
            examples.push(Source {
                name,
                json: crate::read_json(&path)?,
            });
        }
        Ok(Self {
            schemas,
            json_schemas,
            examples,
        })
    }

    /// The versions of the current (not historical) packages, for the file header.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} schema variants and {} example folders listed in corpora/sources.json",
            self.schemas.len() + self.json_schemas.len(),
            self.examples.len()
        )
    }
}

/// The webhooks of `events` in a JSON Schema document (`definitions` holding
/// `event$action` schemas, as `@octokit/webhooks-definitions` ships them) as an
/// OpenAPI document the model builder reads.
fn as_openapi(document: &Value, events: &[&str]) -> Result<Value, String> {
    let definitions = document
        .get("definitions")
        .and_then(Value::as_object)
        .ok_or("no definitions")?;
    let mut webhooks = Map::new();
    for key in definitions.keys() {
        let Some((event, action)) = key.split_once('$') else {
            continue;
        };
        if !events.contains(&event) {
            continue;
        }
        let operation = format!("{}/{}", event.replace('_', "-"), action.replace('_', "-"));
        webhooks.insert(
            operation.replace('/', "-"),
            json!({"post": {
                "operationId": operation,
                "requestBody": {"content": {"application/json": {
                    "schema": {"$ref": format!("#/components/schemas/{key}")}
                }}}
            }}),
        );
    }
    if webhooks.len() < events.len() {
        return Err(format!("lacks some of the events {events:?}"));
    }
    Ok(json!({
        "components": {"schemas": definitions},
        "webhooks": webhooks,
    }))
}
