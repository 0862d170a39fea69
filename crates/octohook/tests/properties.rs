//! Property tests for the parsers and the verifier, run on stable by `cargo test`.
//!
//! The same entry points are fuzzed with cargo-fuzz (see `fuzz/`); these tests keep
//! the invariants checked on every build.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use octohook::{
    ContentType, DeliveryGuid, DeliveryHeaders, Error, EventKind, HookId, SecretIndex, Signature1,
    Signature256, Signer, Verifier, WebhookSecret, sign,
};
use proptest::collection::vec;
use proptest::prelude::*;

const GUID: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

fn secret_strategy() -> impl Strategy<Value = WebhookSecret> {
    vec(any::<u8>(), 1..80).prop_map(|bytes| WebhookSecret::new(bytes).expect("non-empty"))
}

/// A JSON object with an optional `action` and a few string fields of any Unicode.
fn json_object() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::option::of("\\PC{0,12}"),
        vec(("\\PC{0,8}", "\\PC{0,40}"), 0..6),
    )
        .prop_map(|(action, fields)| {
            let mut object = serde_json::Map::new();
            for (key, value) in fields {
                object.insert(key, serde_json::Value::String(value));
            }
            if let Some(action) = action {
                object.insert("action".into(), serde_json::Value::String(action));
            }
            serde_json::to_vec(&object).expect("serializable")
        })
}

/// Any JSON value up to a dozen levels deep, with brackets, quotes and
/// backslashes in its strings and keys.
fn nested_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        "[\\[\\]{}\"\\\\a-z]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(12, 64, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            vec(("[\\[{\"\\\\a-z]{0,4}", inner), 0..4)
                .prop_map(|fields| serde_json::Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// The nesting depth of a value: 0 for a scalar, 1 for `[]`.
fn depth_of(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}

/// Either a JSON object or arbitrary bytes, so both outcomes of decoding are covered.
fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![json_object(), vec(any::<u8>(), 0..600)]
}

fn headers_for(signature: &str, content_type: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", HeaderValue::from_static("issues"));
    headers.insert("x-github-delivery", HeaderValue::from_static(GUID));
    headers.insert("x-github-hook-id", HeaderValue::from_static("42"));
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(signature).expect("ASCII signature"),
    );
    headers
}

/// A comparable summary of a verification outcome.
fn outcome(result: &Result<octohook::VerifiedDelivery, Error>) -> String {
    match result {
        Ok(delivery) => format!(
            "ok raw={:?} payload={:?} action={:?} secret={:?} algorithm={:?}",
            delivery.raw_body(),
            delivery.payload(),
            delivery.action(),
            delivery.secret_index(),
            delivery.algorithm(),
        ),
        Err(error) => format!("err {error}"),
    }
}

/// Splits `body` at the given cut points (taken modulo its length, sorted).
fn chunks(body: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|cut| cut % (body.len() + 1))
        .chain([0, body.len()])
        .collect();
    points.sort_unstable();
    points
        .windows(2)
        .map(|pair| Bytes::copy_from_slice(&body[pair[0]..pair[1]]))
        .collect()
}

/// Found by the `json_depth` fuzz target: a repeated key whose first value is the
/// deeper one. The count covers every value, as `serde_json` walks them all.
#[test]
fn a_repeated_key_counts_the_deeper_value() {
    let body = br#"{"a":[1,{"b":"[{\\\"]"}],"a":{}}"#;
    octohook::internal::fuzz_json_depth(body);
    let secret = WebhookSecret::new("depth").expect("non-empty");
    let headers = headers_for(&sign(&secret, body), "application/json");
    let refused = Verifier::new(secret)
        .with_max_json_depth(2)
        .verify(&headers, Bytes::from_static(body));
    assert!(
        matches!(refused, Err(Error::PayloadTooDeep { limit: 2 })),
        "{refused:?}"
    );
}

/// A header name: one GitHub sends, one in its namespace that it does not,
/// or another.
fn delivery_header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(octohook::header::DELIVERY_HEADERS.to_vec())
            .prop_map(|name| name.as_str().to_owned()),
        "x-github-[a-z]{1,8}",
        "x-hub-[a-z]{1,8}",
        "[a-z]{1,12}",
    ]
}

/// A header value: short and plain, long (up to 5 KB, as padding is), or with
/// bytes a kept value may not hold (tabs, obs-text; never 0xff, which ends
/// the head in the entry point's format).
fn header_value_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ -~]{0,40}".prop_map(String::into_bytes),
        (1usize..5000).prop_map(|length| vec![b'a'; length]),
        vec(
            prop_oneof![Just(b'\t'), 0x80u8..=0xfe, 0x21u8..=0x7e],
            0..40
        ),
    ]
}

proptest! {
    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(data in vec(any::<u8>(), 0..200)) {
        let _ = Signature256::parse(&data);
        let _ = Signature1::parse(&data);
        let _ = ContentType::from_header(&data);
        let _ = ContentType::Form.payload_json(&data);
        let text = String::from_utf8_lossy(&data);
        let _ = text.parse::<DeliveryGuid>();
        let _ = text.parse::<HookId>();
        let event = EventKind::from_name(&text);
        prop_assert_eq!(event.as_str(), &*text);
        octohook::internal::fuzz_signature_header(&data);
        octohook::internal::fuzz_form_body(&data);
        octohook::internal::fuzz_delivery_headers(&data);
        octohook::internal::fuzz_json_depth(&data);
    }

    /// Requests whose headers are GitHub's (some repeated, some long, some not
    /// visible ASCII) among padding: what is kept follows the same rules by
    /// either path and within the cap (checked inside the entry point).
    #[test]
    fn kept_headers_follow_their_rules(
        records in vec((delivery_header_name(), header_value_bytes()), 0..24),
        body in vec(any::<u8>(), 0..64),
    ) {
        let mut data = Vec::new();
        for (name, value) in records {
            data.extend_from_slice(name.as_bytes());
            data.push(0);
            data.extend_from_slice(&value);
            data.push(b'\n');
        }
        data.push(0xff);
        data.extend_from_slice(&body);
        octohook::internal::fuzz_delivery_headers(&data);
    }

    #[test]
    fn nesting_depth_is_counted_exactly(value in nested_json(), limit in 0usize..12) {
        let json = serde_json::to_vec(&value).expect("serializable");
        octohook::internal::fuzz_json_depth(&json);
        let depth = depth_of(&value);
        let body = Bytes::from([&b"{\"v\":"[..], &json, b"}"].concat());
        let secret = WebhookSecret::new("depth").expect("non-empty");
        let headers = headers_for(&sign(&secret, &body), "application/json");
        let verifier = Verifier::new(secret).with_max_json_depth(limit);
        match verifier.verify(&headers, body) {
            Ok(_) => prop_assert!(depth < limit, "depth {} + 1 accepted under {}", depth, limit),
            Err(Error::PayloadTooDeep { limit: refused }) => {
                prop_assert_eq!(refused, limit);
                prop_assert!(depth + 1 > limit, "depth {} + 1 refused under {}", depth, limit);
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn signature_parse_accepts_exactly_the_hex_form(data in vec(any::<u8>(), 0..80)) {
        let mut value = b"sha256=".to_vec();
        value.extend_from_slice(&data);
        let well_formed = data.len() == 64 && data.iter().all(u8::is_ascii_hexdigit);
        prop_assert_eq!(Signature256::parse(&value).is_ok(), well_formed);
        if let Ok(parsed) = Signature256::parse(&value) {
            prop_assert_eq!(
                parsed.to_string().into_bytes(),
                value.to_ascii_lowercase()
            );
        }
    }

    #[test]
    fn sign_round_trips_and_verifies(
        secret in secret_strategy(),
        body in vec(any::<u8>(), 0..2048),
        cuts in vec(any::<usize>(), 0..5),
    ) {
        let header = sign(&secret, &body);
        let parsed = Signature256::parse(header.as_bytes()).expect("sign output parses");
        prop_assert_eq!(parsed.to_string(), header.clone());

        let verifier = Verifier::new(secret.clone());
        prop_assert_eq!(
            verifier.verify_signature_256(header.as_bytes(), &body).expect("verifies"),
            SecretIndex(0)
        );

        // Incremental signing over any chunking gives the same header.
        let mut signer = Signer::new(&secret);
        for chunk in chunks(&body, &cuts) {
            signer.update(&chunk);
        }
        prop_assert_eq!(signer.finish(), header);
    }

    #[test]
    fn any_flipped_body_bit_fails(
        secret in secret_strategy(),
        body in vec(any::<u8>(), 1..1024),
        position in any::<usize>(),
        bit in 0u8..8,
    ) {
        let header = sign(&secret, &body);
        let mut tampered = body.clone();
        let index = position % tampered.len();
        tampered[index] ^= 1 << bit;
        let result = Verifier::new(secret).verify_signature_256(header.as_bytes(), &tampered);
        prop_assert!(matches!(result, Err(Error::SignatureMismatch)), "{:?}", result);
    }

    #[test]
    fn any_flipped_digest_bit_fails(
        secret in secret_strategy(),
        body in vec(any::<u8>(), 0..512),
        position in 0usize..32,
        bit in 0u8..8,
    ) {
        let header = sign(&secret, &body);
        let mut digest = *Signature256::parse(header.as_bytes()).unwrap().as_bytes();
        digest[position] ^= 1 << bit;
        let tampered = format!("sha256={}", hex::encode(digest));
        let verifier = Verifier::new(secret);
        let result = verifier.verify_signature_256(tampered.as_bytes(), &body);
        prop_assert!(matches!(result, Err(Error::SignatureMismatch)), "{:?}", result);

        // Through the full verifier as well.
        let delivery = verifier.verify(
            &headers_for(&tampered, "application/json"),
            Bytes::from(body),
        );
        prop_assert!(matches!(delivery, Err(Error::SignatureMismatch)), "{:?}", delivery);
    }

    #[test]
    fn any_flipped_header_bit_fails_unless_it_only_changes_case(
        secret in secret_strategy(),
        body in vec(any::<u8>(), 0..256),
        position in any::<usize>(),
        bit in 0u8..8,
    ) {
        let header = sign(&secret, &body);
        let mut tampered = header.clone().into_bytes();
        let index = position % tampered.len();
        let original = tampered[index];
        tampered[index] ^= 1 << bit;
        // Hex digits are case-insensitive, so `a` -> `A` (bit 5 of a letter digit)
        // is the same signature; every other flip must fail.
        let same_digit = index >= "sha256=".len()
            && original.is_ascii_alphabetic()
            && tampered[index] == original.to_ascii_uppercase();
        let result = Verifier::new(secret).verify_signature_256(&tampered, &body);
        prop_assert_eq!(result.is_ok(), same_digit, "{:?}", result);
    }

    #[test]
    fn chunked_verification_matches_one_shot(
        secret in secret_strategy(),
        body in body_strategy(),
        cuts in vec(any::<usize>(), 0..8),
        sign_correctly in any::<bool>(),
    ) {
        let signed_body: &[u8] = if sign_correctly { &body } else { b"something else" };
        let headers = headers_for(&sign(&secret, signed_body), "application/json");
        let verifier = Verifier::new(secret);

        let one_shot = verifier.verify(&headers, Bytes::from(body.clone()));

        let mut pending = verifier.begin(&headers).expect("headers are valid");
        for chunk in chunks(&body, &cuts) {
            pending.update(chunk).expect("under the limit");
        }
        prop_assert_eq!(pending.received(), body.len() as u64);
        let streamed = pending.finish();

        prop_assert_eq!(outcome(&one_shot), outcome(&streamed));
        if !sign_correctly && !body.is_empty() && body != b"something else" {
            prop_assert!(matches!(one_shot, Err(Error::SignatureMismatch)));
        }
    }

    #[test]
    fn form_bodies_round_trip_the_payload(
        secret in secret_strategy(),
        payload in json_object(),
        before in vec(("[a-z]{1,6}", "\\PC{0,20}"), 0..3),
        after in vec(("\\PC{0,6}", "\\PC{0,20}"), 0..3),
    ) {
        let payload = String::from_utf8(payload).expect("serde_json writes UTF-8");
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &before {
            if name != "payload" {
                form.append_pair(name, value);
            }
        }
        form.append_pair("payload", &payload);
        for (name, value) in &after {
            if name != "payload" {
                form.append_pair(name, value);
            }
        }
        let body = Bytes::from(form.finish());

        let headers = headers_for(&sign(&secret, &body), "application/x-www-form-urlencoded");
        let delivery = Verifier::new(secret).verify(&headers, body.clone()).expect("verifies");
        prop_assert_eq!(delivery.raw_body(), &body);
        prop_assert_eq!(delivery.payload().as_ref(), payload.as_bytes());
        let expected: serde_json::Value = serde_json::from_str(&payload).unwrap();
        prop_assert_eq!(
            delivery.action(),
            expected.get("action").and_then(serde_json::Value::as_str)
        );
    }

    #[test]
    fn form_bodies_with_two_payloads_or_bytes_that_are_not_utf8_are_refused(
        secret in secret_strategy(),
        payload in json_object(),
        second in json_object(),
        cut in any::<prop::sample::Index>(),
        bad in prop_oneof![
            // A lone continuation byte, a lead byte without its continuation, an
            // overlong form, a surrogate, a byte that never occurs in UTF-8.
            Just(&b"\x80"[..]), Just(&b"\xC3"[..]), Just(&b"\xC0\xAF"[..]),
            Just(&b"\xED\xA0\x80"[..]), Just(&b"\xFF"[..]),
        ],
    ) {
        let payload = String::from_utf8(payload).expect("serde_json writes UTF-8");
        let second = String::from_utf8(second).expect("serde_json writes UTF-8");
        let repeated = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload)
            .append_pair("payload", &second)
            .finish();
        let headers = headers_for(&sign(&secret, repeated.as_bytes()), "application/x-www-form-urlencoded");
        let refused = Verifier::new(secret.clone()).verify(&headers, Bytes::from(repeated));
        prop_assert!(matches!(refused, Err(Error::RepeatedFormPayload)), "{:?}", refused);

        // The bad bytes, percent-encoded, at a character boundary of the payload.
        let mut at = cut.index(payload.len() + 1);
        while !payload.is_char_boundary(at) {
            at -= 1;
        }
        let mut decoded = payload.as_bytes()[..at].to_vec();
        decoded.extend_from_slice(bad);
        decoded.extend_from_slice(&payload.as_bytes()[at..]);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", "")
            .finish()
            + &form_urlencoded::byte_serialize(&decoded).collect::<String>();
        let headers = headers_for(&sign(&secret, body.as_bytes()), "application/x-www-form-urlencoded");
        let refused = Verifier::new(secret).verify(&headers, Bytes::from(body));
        prop_assert!(matches!(refused, Err(Error::FormPayloadNotUtf8)), "{:?}", refused);
    }

    #[test]
    fn arbitrary_header_values_give_errors_not_panics(
        which in 0usize..HEADERS.len(),
        value in prop_oneof![
            vec(any::<u8>(), 0..100),
            // Near-valid values, so acceptance is exercised as much as rejection.
            "[0-9]{0,22}".prop_map(String::into_bytes),
            "[a-zA-Z0-9_-]{0,70}".prop_map(String::into_bytes),
            "[ -~]{0,40}".prop_map(String::into_bytes),
        ],
    ) {
        // Bytes `http` itself refuses (control characters) never reach a receiver.
        let Ok(value) = HeaderValue::from_bytes(&value) else {
            return Ok(());
        };
        let secret = WebhookSecret::new("header-fuzz").unwrap();
        let body = Bytes::from_static(br#"{"action":"opened"}"#);
        let good_signature = sign(&secret, &body);
        let mut headers = headers_for(&good_signature, "application/json");
        let name = HeaderName::from_static(HEADERS[which]);
        if name == "x-github-hook-installation-target-type" {
            headers.insert("x-github-hook-installation-target-id", HeaderValue::from_static("7"));
        }
        headers.insert(name, value.clone());

        let parsed = DeliveryHeaders::from_headers(&headers);
        let verified = Verifier::new(secret).verify(&headers, body);
        let valid = acceptable(HEADERS[which], value.as_bytes(), &good_signature);
        prop_assert_eq!(verified.is_ok(), valid, "{:?} as {}: {:?}", value, HEADERS[which], verified);
        // Only the signature, the length and the body decoding lie outside the
        // delivery headers.
        if !matches!(HEADERS[which], "x-hub-signature-256" | "content-length" | "content-type") {
            prop_assert_eq!(parsed.is_ok(), valid, "{:?}", value);
        }
        if let Err(error) = verified {
            prop_assert!(error.status().is_client_error(), "{:?}", error);
        }
    }
}

/// The headers `arbitrary_header_values_give_errors_not_panics` replaces.
const HEADERS: [&str; 9] = [
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "content-type",
    "content-length",
    "x-hub-signature-256",
    "x-github-hook-installation-target-type",
    "x-github-enterprise-host",
    "user-agent",
];

/// Whether a delivery with `value` in header `name` (and every other header valid)
/// should verify, written from the rules rather than with the crate's parsers.
fn acceptable(name: &str, value: &[u8], good_signature: &str) -> bool {
    let token = !value.is_empty()
        && value
            .iter()
            .all(|b| (0x21..0x7f).contains(b) || *b == b'\t');
    let decimal = !value.is_empty()
        && value.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(value).unwrap().parse::<u64>().is_ok();
    match name {
        "x-github-event"
        | "x-github-hook-installation-target-type"
        | "x-github-enterprise-host" => token,
        "x-github-delivery" => {
            value.len() <= 64
                && !value.is_empty()
                && value
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        }
        "x-github-hook-id" => decimal,
        "content-length" => {
            decimal && std::str::from_utf8(value).unwrap().parse::<u64>().unwrap() <= 25 << 20
        }
        "content-type" => {
            let media = value.split(|b| *b == b';').next().unwrap().trim_ascii();
            media.eq_ignore_ascii_case(b"application/json")
        }
        "x-hub-signature-256" => {
            value.len() == good_signature.len()
                && value.starts_with(b"sha256=")
                && value.eq_ignore_ascii_case(good_signature.as_bytes())
        }
        "user-agent" => true,
        other => unreachable!("{other}"),
    }
}
