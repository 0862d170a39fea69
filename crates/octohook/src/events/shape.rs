//! What each generated payload type accepts, as data, and the repair that lets one
//! odd field give way instead of sinking the whole event.
//!
//! Parsing first deserialises the payload straight into its type. Only when that
//! fails is the payload read as a `serde_json::Value` and walked against the type's
//! [`Shape`]: a field whose value does not fit (or a plain field that is absent or
//! `null`) is set to `null` when the field is an `Option`, or to its type's default
//! when it is plain, an array item or map value that does not fit is left out, and
//! each change is recorded as a [`FieldWarning`]. Only the fields that identify the
//! event (its `action`, and the main object and its `id` and `number`) never give way: a
//! defect there is an [`EventError`] whose path names the object that lacks the
//! field, or the value of the wrong type.
//!
//! The walk mirrors what the derived `Deserialize` impls accept, type by type, so
//! a repaired value always deserialises. Its cost (a `Value` and a second parse) is
//! paid only by payloads that would otherwise be rejected.

use serde_json::{Map, Value};

use super::error::EventError;
use super::json_path::{self, PathStep};
use super::warning::{FieldWarning, Found, Resolution};

/// The fields of a generated struct. Generated code builds these; nothing else
/// needs to.
#[derive(Debug)]
pub struct Shape {
    pub(crate) fields: &'static [Field],
}

/// One field of a [`Shape`].
#[derive(Debug)]
pub(crate) struct Field {
    /// The JSON key.
    pub(crate) name: &'static str,
    /// Whether the Rust field is an `Option` (absent and `null` are `None`).
    pub(crate) optional: bool,
    pub(crate) ty: &'static Ty,
}

/// What a value of a field accepts.
// Which variants the generated shapes use depends on the event groups enabled.
#[allow(dead_code)]
#[derive(Debug)]
pub(crate) enum Ty {
    /// Any JSON (`serde_json::Value`, and the untagged unions, which fall back to it).
    Any,
    Bool,
    /// An `i64`.
    Int,
    /// An `f64`: any number.
    Float,
    /// A `String`, or a string enum (unknown values are kept).
    Str,
    /// `IntOrString` or `Timestamp`: an integer or a string.
    IntOrStr,
    /// A free-form JSON object.
    Object,
    Struct(&'static Shape),
    Array(&'static Ty),
    Map(&'static Ty),
    /// A nullable array item or map value.
    Option(&'static Ty),
    /// `Change<T>`: an object whose `from` is a `T`.
    Change(&'static Ty),
}

impl Ty {
    /// What the type expects, for warnings and errors.
    fn expected(&self) -> &'static str {
        match self {
            Self::Any => "any value",
            Self::Bool => "a boolean",
            Self::Int => "an integer",
            Self::Float => "a number",
            Self::Str => "a string",
            Self::IntOrStr => "an integer or a string",
            Self::Object | Self::Struct(_) | Self::Map(_) | Self::Change(_) => "an object",
            Self::Array(_) => "an array",
            Self::Option(inner) => inner.expected(),
        }
    }

    /// The value a plain field of this type takes when it has to give way.
    fn default_value(&self, depth: usize) -> Value {
        match self {
            Self::Any | Self::Option(_) => Value::Null,
            Self::Bool => Value::Bool(false),
            Self::Int | Self::Float | Self::IntOrStr => Value::from(0),
            Self::Str => Value::String(String::new()),
            Self::Object | Self::Map(_) => Value::Object(Map::new()),
            Self::Array(_) => Value::Array(Vec::new()),
            Self::Struct(shape) => {
                let mut object = Map::new();
                // A plain field cannot hold its own type without an `Option` or a
                // collection in between; the bound only guards against a bad shape.
                if depth < 32 {
                    for field in shape.fields.iter().filter(|f| !f.optional) {
                        object.insert(field.name.to_owned(), field.ty.default_value(depth + 1));
                    }
                }
                Value::Object(object)
            }
            Self::Change(inner) => {
                let mut object = Map::new();
                object.insert("from".to_owned(), inner.default_value(depth + 1));
                Value::Object(object)
            }
        }
    }
}

/// One step of a path into the payload.
#[derive(Clone, Debug)]
enum Step {
    Key(&'static str),
    Entry(String),
    Index(usize),
}

/// The path as users read it: `pull_request.labels[0].name`, `.` for the top level.
fn render(path: &[Step]) -> String {
    json_path::render(path.iter().map(|step| match step {
        Step::Key(key) => PathStep::Key(key),
        Step::Entry(key) => PathStep::Key(key),
        Step::Index(index) => PathStep::Index(*index),
    }))
}

/// Whether a value fits a type as it stands, without looking inside containers.
fn fits_here(value: &Value, ty: &Ty) -> bool {
    match (ty, value) {
        (Ty::Any, _) | (Ty::Option(_), Value::Null) => true,
        (Ty::Option(inner), _) => fits_here(value, inner),
        (Ty::Bool, Value::Bool(_)) => true,
        (Ty::Int, Value::Number(n)) => n.is_i64(),
        (Ty::Float, Value::Number(_)) => true,
        (Ty::Str, Value::String(_)) => true,
        (Ty::IntOrStr, Value::String(_)) => true,
        (Ty::IntOrStr, Value::Number(n)) => n.is_i64(),
        (Ty::Object | Ty::Struct(_) | Ty::Map(_) | Ty::Change(_), Value::Object(_)) => true,
        (Ty::Array(_), Value::Array(_)) => true,
        _ => false,
    }
}

/// Walks a payload against its shape, repairing or (in strict mode) stopping at the
/// first defect.
pub(crate) struct Repair<'i> {
    identifying: &'i [&'i str],
    path: Vec<Step>,
    warnings: Vec<FieldWarning>,
    /// Stop at the first defect instead of repairing it.
    strict: bool,
}

/// Where a walk stopped: the defect that sank the event.
type Sunk = EventError;

impl<'i> Repair<'i> {
    /// A walk that repairs every field that may give way.
    pub(crate) fn new(identifying: &'i [&'i str]) -> Self {
        Self {
            identifying,
            path: Vec::new(),
            warnings: Vec::new(),
            strict: false,
        }
    }

    /// A walk that reports the first defect as an error.
    pub(crate) fn strict(identifying: &'i [&'i str]) -> Self {
        Self {
            strict: true,
            ..Self::new(identifying)
        }
    }

    /// Repairs `value` (the whole payload) to fit `shape`; returns the warnings.
    pub(crate) fn run(
        mut self,
        value: &mut Value,
        shape: &Shape,
    ) -> Result<Vec<FieldWarning>, Sunk> {
        match value {
            Value::Object(object) => self.object(object, shape)?,
            other => {
                return Err(EventError::field(".", "an object", Found::of(other)));
            }
        }
        Ok(self.warnings)
    }

    fn object(&mut self, object: &mut Map<String, Value>, shape: &Shape) -> Result<(), Sunk> {
        for field in shape.fields {
            self.path.push(Step::Key(field.name));
            let result = self.field(object, field);
            self.path.pop();
            result?;
        }
        Ok(())
    }

    fn field(&mut self, object: &mut Map<String, Value>, field: &Field) -> Result<(), Sunk> {
        let found = match object.get_mut(field.name) {
            None | Some(Value::Null) if field.optional => return Ok(()),
            None => Found::Missing,
            Some(Value::Null) => Found::Null,
            Some(value) => {
                if fits_here(value, field.ty) {
                    return self.inside(value, field.ty);
                }
                Found::of(value)
            }
        };
        let path = render(&self.path);
        // The main object itself identifies the event too: a default in its place
        // would carry a made-up id or number.
        let identifying = self.identifying.iter().any(|known| {
            known
                .strip_prefix(path.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        });
        if self.strict || identifying {
            return Err(match found {
                // Name the object that lacks the field, and the field.
                Found::Missing => {
                    let parent = render(&self.path[..self.path.len() - 1]);
                    EventError::missing(&parent, field.name)
                }
                found => EventError::field(&path, field.ty.expected(), found),
            });
        }
        let (replacement, resolution) = if field.optional {
            (Value::Null, Resolution::None)
        } else {
            (field.ty.default_value(0), Resolution::Default)
        };
        object.insert(field.name.to_owned(), replacement);
        self.warn(path, field.ty.expected(), found, resolution);
        Ok(())
    }

    /// Repairs what is inside a value that fits `ty` where it stands.
    fn inside(&mut self, value: &mut Value, ty: &Ty) -> Result<(), Sunk> {
        match (ty, value) {
            (Ty::Option(inner), value) if !value.is_null() => self.inside(value, inner),
            (Ty::Struct(shape), Value::Object(object)) => self.object(object, shape),
            (Ty::Change(inner), Value::Object(object)) => {
                let from = Field {
                    name: "from",
                    optional: matches!(inner, Ty::Option(_)),
                    ty: inner,
                };
                self.path.push(Step::Key("from"));
                let result = self.field(object, &from);
                self.path.pop();
                result
            }
            (Ty::Array(item), Value::Array(items)) => {
                let mut keep = Vec::with_capacity(items.len());
                for (index, mut value) in std::mem::take(items).into_iter().enumerate() {
                    self.path.push(Step::Index(index));
                    let result = self.item(&mut value, item);
                    self.path.pop();
                    if result? {
                        keep.push(value);
                    }
                }
                *items = keep;
                Ok(())
            }
            (Ty::Map(item), Value::Object(entries)) => {
                let mut keep = Map::new();
                for (key, mut value) in std::mem::take(entries) {
                    self.path.push(Step::Entry(key.clone()));
                    let result = self.item(&mut value, item);
                    self.path.pop();
                    if result? {
                        keep.insert(key, value);
                    }
                }
                *entries = keep;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Repairs an array item or map value; `false` when it must be left out.
    fn item(&mut self, value: &mut Value, ty: &Ty) -> Result<bool, Sunk> {
        if fits_here(value, ty) {
            self.inside(value, ty)?;
            return Ok(true);
        }
        let path = render(&self.path);
        let found = Found::of(value);
        if self.strict {
            return Err(EventError::field(&path, ty.expected(), found));
        }
        if let Ty::Option(_) = ty {
            *value = Value::Null;
            self.warn(path, ty.expected(), found, Resolution::None);
            return Ok(true);
        }
        self.warn(path, ty.expected(), found, Resolution::Dropped);
        Ok(false)
    }

    fn warn(&mut self, path: String, expected: &'static str, found: Found, resolution: Resolution) {
        self.warnings.push(FieldWarning {
            path,
            expected,
            found,
            resolution,
        });
    }
}
