//! [`NameTemplate`]: a NATS subject or AMQP routing key with `{event}` and
//! `{action}` in it, rendered per delivery within the broker's rules.

use std::fmt;

/// What an absent action renders as: the events without an `action` field
/// (`push`, `ping`, ...) go to `github.push.none` under
/// `github.{event}.{action}`, so one subscription per event still sees them.
pub const NO_ACTION: &str = "none";

/// The most bytes one rendered value (event or action) takes; GitHub's longest
/// names are about 40 bytes, and the values come from the network.
pub const MAX_VALUE_BYTES: usize = 64;

/// AMQP's limit on a routing key (a short string).
pub const MAX_ROUTING_KEY_BYTES: usize = 255;

/// Which broker's naming rules a template follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameRules {
    /// A NATS subject to publish on: dot-separated tokens, none empty, no
    /// whitespace and no wildcard (`*`, `>`).
    NatsSubject,
    /// An AMQP routing key: at most 255 bytes of visible ASCII, dots
    /// separating words for topic exchanges, no `*` or `#` (the binding
    /// wildcards).
    AmqpRoutingKey,
}

/// A subject or routing key with `{event}` and `{action}` placeholders.
///
/// The values are sanitised: each byte outside `A-Z a-z 0-9 - _` becomes `_`
/// (so a value never adds a token, a wildcard or a space), an empty value is
/// `_`, an absent action is [`NO_ACTION`], and each value is cut to
/// [`MAX_VALUE_BYTES`]; an AMQP routing key is cut to 255 bytes.
///
/// ```
/// use octohook_broker::{NameRules, NameTemplate};
///
/// let subject = NameTemplate::parse("github.{event}.{action}", NameRules::NatsSubject).unwrap();
/// assert_eq!(subject.render("pull_request", Some("opened")), "github.pull_request.opened");
/// assert_eq!(subject.render("push", None), "github.push.none");
/// assert_eq!(subject.render("we.ird >*", Some("")), "github.we_ird___._");
/// assert_eq!(subject.wildcard(), "github.*.*");
/// assert!(NameTemplate::parse("github.{who}", NameRules::NatsSubject).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NameTemplate {
    text: String,
    parts: Vec<Part>,
    rules: NameRules,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Part {
    Literal(String),
    Event,
    Action,
}

/// Why a template was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateError {
    /// An empty template.
    #[error("it is empty")]
    Empty,
    /// A placeholder other than `{event}` and `{action}`.
    #[error("`{{{0}}}` is not a placeholder: use {{event}} or {{action}}")]
    UnknownPlaceholder(String),
    /// A `{` without its `}`, or a lone `}`.
    #[error("a brace is not closed")]
    UnbalancedBrace,
    /// The rendered name breaks the broker's rules.
    #[error("{0}")]
    Invalid(&'static str),
}

impl NameTemplate {
    /// Parses `text` for the broker's `rules`.
    pub fn parse(text: &str, rules: NameRules) -> Result<Self, TemplateError> {
        if text.is_empty() {
            return Err(TemplateError::Empty);
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
                Some(at) if rest.as_bytes()[at] == b'}' => {
                    return Err(TemplateError::UnbalancedBrace);
                }
                Some(at) => {
                    if at > 0 {
                        parts.push(Part::Literal(rest[..at].to_owned()));
                    }
                    let after = &rest[at + 1..];
                    let close = after.find('}').ok_or(TemplateError::UnbalancedBrace)?;
                    parts.push(match &after[..close] {
                        "event" => Part::Event,
                        "action" => Part::Action,
                        other if other.contains('{') => return Err(TemplateError::UnbalancedBrace),
                        other => return Err(TemplateError::UnknownPlaceholder(other.to_owned())),
                    });
                    rest = &after[close + 1..];
                }
            }
        }
        let template = Self {
            text: text.to_owned(),
            parts,
            rules,
        };
        // Placeholders render as `x` at the shortest: the literals decide.
        check(&template.render_raw("x", "x", false), rules)?;
        Ok(template)
    }

    /// The name for a delivery of `event` with `action`.
    pub fn render(&self, event: &str, action: Option<&str>) -> String {
        let event = sanitised(event);
        let action = sanitised(action.unwrap_or(NO_ACTION));
        self.render_raw(&event, &action, true)
    }

    /// The NATS subject every rendering matches: the placeholders as `*`
    /// (`github.*.*`); what a stream must cover. (For AMQP, `*` is the topic
    /// binding's word wildcard, so it is the binding key that sees them all.)
    pub fn wildcard(&self) -> String {
        self.render_raw("*", "*", false)
    }

    /// The template's rules.
    pub fn rules(&self) -> NameRules {
        self.rules
    }

    /// Whether the template has no placeholder (every delivery gets the same name).
    pub fn is_fixed(&self) -> bool {
        self.parts
            .iter()
            .all(|part| matches!(part, Part::Literal(_)))
    }

    fn render_raw(&self, event: &str, action: &str, cut: bool) -> String {
        let mut name = String::with_capacity(self.text.len() + event.len() + action.len());
        for part in &self.parts {
            name.push_str(match part {
                Part::Literal(text) => text,
                Part::Event => event,
                Part::Action => action,
            });
        }
        if cut && self.rules == NameRules::AmqpRoutingKey && name.len() > MAX_ROUTING_KEY_BYTES {
            // Visible ASCII only (checked at parse, values sanitised): a byte
            // is a character.
            name.truncate(MAX_ROUTING_KEY_BYTES);
        }
        name
    }
}

/// A value as it may appear in a name.
fn sanitised(value: &str) -> String {
    if value.is_empty() {
        return "_".to_owned();
    }
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_VALUE_BYTES)
        .collect()
}

fn check(name: &str, rules: NameRules) -> Result<(), TemplateError> {
    if name
        .bytes()
        .any(|b| !b.is_ascii_graphic() || matches!(b, b'*' | b'>' | b'#'))
    {
        return Err(TemplateError::Invalid(
            "only visible ASCII, without spaces or the wildcards `*`, `>` and `#`",
        ));
    }
    match rules {
        NameRules::NatsSubject => {
            if name.split('.').any(str::is_empty) {
                return Err(TemplateError::Invalid(
                    "a subject's tokens must not be empty (no leading, trailing or double dot)",
                ));
            }
        }
        NameRules::AmqpRoutingKey => {
            if name.len() > MAX_ROUTING_KEY_BYTES {
                return Err(TemplateError::Invalid("a routing key is at most 255 bytes"));
            }
        }
    }
    Ok(())
}

impl fmt::Display for NameTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for NameTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NameTemplate").field(&self.text).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nats(text: &str) -> NameTemplate {
        NameTemplate::parse(text, NameRules::NatsSubject).unwrap()
    }

    #[test]
    fn values_never_add_tokens_wildcards_or_spaces() {
        let subject = nats("gh.{event}.{action}");
        for (event, action, expected) in [
            ("push", None, "gh.push.none"),
            ("a.b", Some("c d"), "gh.a_b.c_d"),
            ("*", Some(">"), "gh._._"),
            ("", Some(""), "gh._._"),
            (
                "pull_request-x",
                Some("\u{e9}t\u{e9}\n"),
                "gh.pull_request-x._t__",
            ),
        ] {
            let rendered = subject.render(event, action);
            assert_eq!(rendered, expected);
            assert_eq!(rendered.split('.').count(), 3);
        }
        let long = "e".repeat(500);
        assert_eq!(
            subject.render(&long, None).len(),
            "gh..none".len() + MAX_VALUE_BYTES
        );
    }

    #[test]
    fn a_routing_key_is_cut_to_255_bytes() {
        let key = NameTemplate::parse(
            &format!("{}.{{event}}.{{action}}", "k".repeat(200)),
            NameRules::AmqpRoutingKey,
        )
        .unwrap();
        let rendered = key.render(&"e".repeat(100), Some(&"a".repeat(100)));
        assert_eq!(rendered.len(), MAX_ROUTING_KEY_BYTES);
        assert!(NameTemplate::parse(&"k".repeat(256), NameRules::AmqpRoutingKey).is_err());
    }

    #[test]
    fn bad_templates_are_refused() {
        for (text, rules) in [
            ("", NameRules::NatsSubject),
            ("a.{event", NameRules::NatsSubject),
            ("a.event}", NameRules::NatsSubject),
            ("a.{{event}}", NameRules::NatsSubject),
            ("a.{Event}", NameRules::NatsSubject),
            (".a", NameRules::NatsSubject),
            ("a.", NameRules::NatsSubject),
            ("a..{event}", NameRules::NatsSubject),
            ("a.*", NameRules::NatsSubject),
            ("a.>", NameRules::NatsSubject),
            ("a b", NameRules::NatsSubject),
            ("a.#", NameRules::AmqpRoutingKey),
            ("a b", NameRules::AmqpRoutingKey),
        ] {
            assert!(NameTemplate::parse(text, rules).is_err(), "{text:?}");
        }
        assert!(NameTemplate::parse("{event}{action}", NameRules::NatsSubject).is_ok());
        assert!(nats("fixed.subject").is_fixed());
    }
}
