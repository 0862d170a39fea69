//! Published test vectors and the behaviour a receiver relies on, checked through
//! the public API.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use octohook::{
    Error, PayloadCheck, SecretIndex, Signature256, SignatureAlgorithm, SignatureFormatError,
    Signer, Verifier, WebhookSecret, sign, sign_legacy_sha1,
};

/// GitHub's documented example ("Validating webhook deliveries").
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITHUB_BODY: &str = "Hello, World!";
const GITHUB_SHA256: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

/// go-github's `ValidatePayload` test vectors.
const GO_GITHUB_KEY: &str = "0123456789abcdef";
const GO_GITHUB_BODY: &str = r#"{"yo":true}"#;
const GO_GITHUB_SHA1: &str = "sha1=126f2c800419c60137ce748d7672e77b65cf16d6";
const GO_GITHUB_SHA256: &str =
    "sha256=b1f8020f5b4cd42042f807dd939015c4a418bc1ff7f604dd55b0a19b5d953d9b";

const GUID: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

fn secret(text: &str) -> WebhookSecret {
    WebhookSecret::new(text).expect("non-empty secret")
}

/// Delivery headers for a JSON body, without any signature header.
fn unsigned_headers(event: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", HeaderValue::from_str(event).unwrap());
    headers.insert("x-github-delivery", HeaderValue::from_static(GUID));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers
}

fn with_header(mut headers: HeaderMap, name: &'static str, value: &str) -> HeaderMap {
    headers.append(name, HeaderValue::from_str(value).unwrap());
    headers
}

/// A `String` rendering of every variant reachable from outside, for the leak checks.
fn rendered(error: &Error) -> [String; 2] {
    [error.to_string(), format!("{error:?}")]
}

#[test]
fn github_documented_vector_signs_and_verifies() {
    let secret = secret(GITHUB_SECRET);
    assert_eq!(sign(&secret, GITHUB_BODY.as_bytes()), GITHUB_SHA256);

    let verifier = Verifier::new(secret);
    assert_eq!(
        verifier
            .verify_signature_256(GITHUB_SHA256.as_bytes(), GITHUB_BODY.as_bytes())
            .unwrap(),
        SecretIndex(0)
    );
    // One character off in the body or the digest fails.
    assert!(matches!(
        verifier.verify_signature_256(GITHUB_SHA256.as_bytes(), b"Hello, World?"),
        Err(Error::SignatureMismatch)
    ));
    let wrong = GITHUB_SHA256.replace("757107", "757108");
    assert!(matches!(
        verifier.verify_signature_256(wrong.as_bytes(), GITHUB_BODY.as_bytes()),
        Err(Error::SignatureMismatch)
    ));
    // The digest may be sent in upper case; the prefix may not.
    let upper = format!("sha256={}", GITHUB_SHA256["sha256=".len()..].to_uppercase());
    assert!(
        verifier
            .verify_signature_256(upper.as_bytes(), GITHUB_BODY.as_bytes())
            .is_ok()
    );
    assert!(matches!(
        verifier.verify_signature_256(
            GITHUB_SHA256.replace("sha256", "SHA256").as_bytes(),
            GITHUB_BODY.as_bytes()
        ),
        Err(Error::MalformedSignature {
            kind: SignatureFormatError::WrongPrefix,
            ..
        })
    ));
}

#[test]
fn go_github_vectors_sign_as_published() {
    let key = secret(GO_GITHUB_KEY);
    assert_eq!(sign(&key, GO_GITHUB_BODY.as_bytes()), GO_GITHUB_SHA256);
    assert_eq!(
        sign_legacy_sha1(&key, GO_GITHUB_BODY.as_bytes()),
        GO_GITHUB_SHA1
    );
}

#[test]
fn go_github_sha256_verifies_through_the_verifier() {
    let headers = with_header(
        unsigned_headers("ping"),
        "x-hub-signature-256",
        GO_GITHUB_SHA256,
    );
    let delivery = Verifier::new(secret(GO_GITHUB_KEY))
        .verify(&headers, Bytes::from_static(GO_GITHUB_BODY.as_bytes()))
        .unwrap();
    assert_eq!(delivery.algorithm(), SignatureAlgorithm::Sha256);
    assert_eq!(delivery.secret_index(), SecretIndex(0));
    assert_eq!(delivery.raw_body().as_ref(), GO_GITHUB_BODY.as_bytes());
}

#[test]
fn go_github_sha1_verifies_only_when_enabled() {
    let headers = with_header(unsigned_headers("ping"), "x-hub-signature", GO_GITHUB_SHA1);
    let body = Bytes::from_static(GO_GITHUB_BODY.as_bytes());

    let strict = Verifier::new(secret(GO_GITHUB_KEY));
    let refused = strict.verify(&headers, body.clone()).unwrap_err();
    assert!(matches!(refused, Error::Sha1NotEnabled), "{refused:?}");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let legacy = Verifier::new(secret(GO_GITHUB_KEY)).allow_legacy_sha1();
    let delivery = legacy.verify(&headers, body.clone()).unwrap();
    assert_eq!(delivery.algorithm(), SignatureAlgorithm::LegacySha1);

    // A wrong SHA-1 digest still fails with SHA-1 enabled.
    let tampered = GO_GITHUB_SHA1.replace("126f", "126e");
    let headers = with_header(unsigned_headers("ping"), "x-hub-signature", &tampered);
    assert!(matches!(
        legacy.verify(&headers, body),
        Err(Error::SignatureMismatch)
    ));
}

#[test]
fn sha1_is_ignored_when_a_sha256_header_is_present() {
    let body = Bytes::from_static(GO_GITHUB_BODY.as_bytes());
    let legacy = Verifier::new(secret(GO_GITHUB_KEY)).allow_legacy_sha1();

    // Valid SHA-1 beside a wrong SHA-256: the SHA-256 header decides, and fails.
    let wrong_256 = GO_GITHUB_SHA256.replace("b1f8", "b1f9");
    let headers = with_header(
        with_header(unsigned_headers("ping"), "x-hub-signature", GO_GITHUB_SHA1),
        "x-hub-signature-256",
        &wrong_256,
    );
    assert!(matches!(
        legacy.verify(&headers, body.clone()),
        Err(Error::SignatureMismatch)
    ));

    // Valid SHA-1 beside a malformed SHA-256: still the SHA-256 header's error.
    let headers = with_header(
        with_header(unsigned_headers("ping"), "x-hub-signature", GO_GITHUB_SHA1),
        "x-hub-signature-256",
        "sha256=abc",
    );
    assert!(matches!(
        legacy.verify(&headers, body.clone()),
        Err(Error::MalformedSignature {
            header: "X-Hub-Signature-256",
            kind: SignatureFormatError::WrongLength,
        })
    ));

    // Both valid: verified with SHA-256.
    let headers = with_header(
        with_header(unsigned_headers("ping"), "x-hub-signature", GO_GITHUB_SHA1),
        "x-hub-signature-256",
        GO_GITHUB_SHA256,
    );
    let delivery = legacy.verify(&headers, body).unwrap();
    assert_eq!(delivery.algorithm(), SignatureAlgorithm::Sha256);
}

#[test]
fn unicode_payload_verifies_byte_exactly() {
    let secret = secret("s3cr\u{e9}t \u{1f511}");
    let text = "{\"action\":\"cr\u{e9}\u{e9}\",\"title\":\"Caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e \u{1f389}\u{1f680} na\u{ef}ve \u{5317}\u{4eac} \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\"}";
    let body = Bytes::from(text.as_bytes().to_vec());
    let headers = with_header(
        unsigned_headers("issues"),
        "x-hub-signature-256",
        &sign(&secret, &body),
    );
    let verifier = Verifier::new(secret);
    let delivery = verifier.verify(&headers, body.clone()).unwrap();
    assert_eq!(delivery.raw_body(), &body);
    assert_eq!(delivery.payload(), &body);
    assert_eq!(delivery.action(), Some("cr\u{e9}\u{e9}"));

    // The same text in another Unicode normalisation (e + combining acute) is
    // different bytes, so it must not verify.
    let decomposed = text.replacen('\u{e9}', "e\u{301}", 1);
    assert!(matches!(
        verifier.verify(&headers, Bytes::from(decomposed.into_bytes())),
        Err(Error::SignatureMismatch)
    ));
}

#[test]
fn each_error_has_its_status_and_leaks_no_secret() {
    let secret_text = "hunter2-very-secret-value";
    let secret = secret(secret_text);
    let body = Bytes::from_static(br#"{"action":"opened"}"#);
    let good = sign(&secret, &body);
    let expected_hex = &good["sha256=".len()..];
    let verifier = Verifier::new(secret.clone()).with_body_limit(64);
    let signed = with_header(unsigned_headers("issues"), "x-hub-signature-256", &good);

    let mut errors: Vec<(Error, StatusCode)> = Vec::new();

    let mut no_event = signed.clone();
    no_event.remove("x-github-event");
    errors.push((
        verifier.verify(&no_event, body.clone()).unwrap_err(),
        StatusCode::BAD_REQUEST,
    ));

    let mut bad_guid = signed.clone();
    bad_guid.insert("x-github-delivery", HeaderValue::from_static("not a guid"));
    errors.push((
        verifier.verify(&bad_guid, body.clone()).unwrap_err(),
        StatusCode::BAD_REQUEST,
    ));

    errors.push((
        verifier
            .verify(&unsigned_headers("issues"), body.clone())
            .unwrap_err(),
        StatusCode::UNAUTHORIZED,
    ));

    let sha1_only = with_header(
        unsigned_headers("issues"),
        "x-hub-signature",
        &sign_legacy_sha1(&secret, &body),
    );
    errors.push((
        verifier.verify(&sha1_only, body.clone()).unwrap_err(),
        StatusCode::UNAUTHORIZED,
    ));

    let malformed = with_header(
        unsigned_headers("issues"),
        "x-hub-signature-256",
        "sha256=zz",
    );
    errors.push((
        verifier.verify(&malformed, body.clone()).unwrap_err(),
        StatusCode::UNAUTHORIZED,
    ));

    errors.push((
        verifier
            .verify(&signed, Bytes::from_static(br#"{"action":"closed"}"#))
            .unwrap_err(),
        StatusCode::UNAUTHORIZED,
    ));

    errors.push((
        verifier
            .verify(&signed, Bytes::from(vec![b' '; 65]))
            .unwrap_err(),
        StatusCode::PAYLOAD_TOO_LARGE,
    ));

    let mut no_type = signed.clone();
    no_type.remove("content-type");
    errors.push((
        verifier.verify(&no_type, body.clone()).unwrap_err(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    ));

    let mut text_type = signed.clone();
    text_type.insert("content-type", HeaderValue::from_static("text/plain"));
    errors.push((
        verifier.verify(&text_type, body.clone()).unwrap_err(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    ));

    let form = Bytes::from_static(b"other=1");
    let mut form_headers = with_header(
        unsigned_headers("issues"),
        "x-hub-signature-256",
        &sign(&secret, &form),
    );
    form_headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    errors.push((
        verifier.verify(&form_headers, form).unwrap_err(),
        StatusCode::BAD_REQUEST,
    ));
    for form in [
        &b"payload=%7B%7D&payload=%7B%7D"[..],
        b"payload=%7B%22a%22%3A%22%FF%22%7D",
    ] {
        let form = Bytes::from_static(form);
        let mut headers = form_headers.clone();
        headers.insert(
            "x-hub-signature-256",
            HeaderValue::from_str(&sign(&secret, &form)).unwrap(),
        );
        errors.push((
            verifier.verify(&headers, form).unwrap_err(),
            StatusCode::BAD_REQUEST,
        ));
    }

    let array = Bytes::from_static(b"[1,2]");
    let array_headers = with_header(
        unsigned_headers("issues"),
        "x-hub-signature-256",
        &sign(&secret, &array),
    );
    // By default the payload is checked where it is read...
    let deferred = verifier.verify(&array_headers, array.clone()).unwrap();
    errors.push((
        deferred.check_payload().unwrap_err(),
        StatusCode::BAD_REQUEST,
    ));
    // ...or during verification, when asked.
    errors.push((
        verifier
            .clone()
            .with_payload_check(PayloadCheck::on_verify())
            .verify(&array_headers, array)
            .unwrap_err(),
        StatusCode::BAD_REQUEST,
    ));

    let deep = Bytes::from_static(br#"{"a":{"b":{}}}"#);
    let deep_headers = with_header(
        unsigned_headers("issues"),
        "x-hub-signature-256",
        &sign(&secret, &deep),
    );
    errors.push((
        verifier
            .clone()
            .with_max_json_depth(2)
            .verify(&deep_headers, deep)
            .unwrap_err(),
        StatusCode::BAD_REQUEST,
    ));

    let kinds: Vec<&str> = errors
        .iter()
        .map(|(error, _)| match error {
            Error::MissingHeader(_) => "MissingHeader",
            Error::InvalidHeader { .. } => "InvalidHeader",
            Error::MissingSignature => "MissingSignature",
            Error::Sha1NotEnabled => "Sha1NotEnabled",
            Error::MalformedSignature { .. } => "MalformedSignature",
            Error::SignatureMismatch => "SignatureMismatch",
            Error::BodyTooLarge { .. } => "BodyTooLarge",
            Error::MissingContentType => "MissingContentType",
            Error::UnsupportedContentType => "UnsupportedContentType",
            Error::MissingFormPayload => "MissingFormPayload",
            Error::RepeatedFormPayload => "RepeatedFormPayload",
            Error::FormPayloadNotUtf8 => "FormPayloadNotUtf8",
            Error::InvalidPayload(_) => "InvalidPayload",
            Error::PayloadTooDeep { .. } => "PayloadTooDeep",
            _ => "unknown variant",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "MissingHeader",
            "InvalidHeader",
            "MissingSignature",
            "Sha1NotEnabled",
            "MalformedSignature",
            "SignatureMismatch",
            "BodyTooLarge",
            "MissingContentType",
            "UnsupportedContentType",
            "MissingFormPayload",
            "RepeatedFormPayload",
            "FormPayloadNotUtf8",
            "InvalidPayload",
            "InvalidPayload",
            "PayloadTooDeep",
        ]
    );

    for (error, status) in &errors {
        assert_eq!(error.status(), *status, "{error:?}");
        for text in rendered(error) {
            assert!(!text.contains(secret_text), "{text}");
            assert!(!text.contains(expected_hex), "{text}");
            assert!(!text.to_lowercase().contains(expected_hex), "{text}");
        }
    }
}

#[test]
fn mismatch_error_does_not_carry_either_digest() {
    let secret = secret("another-secret");
    let body = b"{}";
    let good = sign(&secret, body);
    let sent = "sha256=0000000000000000000000000000000000000000000000000000000000000001";
    let error = Verifier::new(secret)
        .verify_signature_256(sent.as_bytes(), body)
        .unwrap_err();
    for text in rendered(&error) {
        assert!(!text.contains(&good["sha256=".len()..]), "{text}");
        assert!(!text.contains("another-secret"), "{text}");
    }
}

#[test]
fn multiple_secrets_report_which_one_matched() {
    let secrets = [secret("first"), secret("second"), secret("third")];
    let verifier = Verifier::new(secrets[0].clone())
        .with_secret(secrets[1].clone())
        .with_secret(secrets[2].clone());
    assert_eq!(verifier.secret_count(), 3);
    let body = Bytes::from_static(br#"{"zen":"Design for failure."}"#);
    for (index, secret) in secrets.iter().enumerate() {
        let signature = sign(secret, &body);
        assert_eq!(
            verifier
                .verify_signature_256(signature.as_bytes(), &body)
                .unwrap(),
            SecretIndex(index)
        );
        let headers = with_header(unsigned_headers("ping"), "x-hub-signature-256", &signature);
        let delivery = verifier.verify(&headers, body.clone()).unwrap();
        assert_eq!(delivery.secret_index(), SecretIndex(index));
    }
    let stranger = sign(&secret("fourth"), &body);
    assert!(matches!(
        verifier.verify_signature_256(stranger.as_bytes(), &body),
        Err(Error::SignatureMismatch)
    ));
}

#[test]
fn debug_output_never_shows_the_secret() {
    let text = "debug-me-if-you-can";
    let secret = secret(text);
    let verifier = Verifier::new(secret.clone()).with_secret(secret.clone());
    let signer = Signer::new(&secret);
    for debug in [
        format!("{secret:?}"),
        format!("{secret:#?}"),
        format!("{verifier:?}"),
        format!("{verifier:#?}"),
        format!("{signer:?}"),
    ] {
        assert!(!debug.contains(text), "{debug}");
        assert!(!debug.contains("debug-me"), "{debug}");
    }
    // And the HMAC key bytes, in any common rendering, do not appear either.
    let as_bytes = format!("{:?}", text.as_bytes());
    assert!(!format!("{verifier:?}").contains(&as_bytes[1..20]));
}

#[test]
fn content_length_over_the_limit_is_rejected_before_the_body() {
    let secret = secret("limit");
    let verifier = Verifier::new(secret.clone()).with_body_limit(100);
    let signature = sign(&secret, b"{}");
    let headers = with_header(
        with_header(unsigned_headers("ping"), "x-hub-signature-256", &signature),
        "content-length",
        "101",
    );
    let error = verifier.begin(&headers).unwrap_err();
    assert!(
        matches!(error, Error::BodyTooLarge { limit: 100 }),
        "{error:?}"
    );
    assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // At the limit itself, begin accepts.
    let at_limit = with_header(
        with_header(unsigned_headers("ping"), "x-hub-signature-256", &signature),
        "content-length",
        "100",
    );
    assert!(verifier.begin(&at_limit).is_ok());

    // A malformed Content-Length is a bad request, also before the body.
    let malformed = with_header(
        with_header(unsigned_headers("ping"), "x-hub-signature-256", &signature),
        "content-length",
        "-1",
    );
    assert_eq!(
        verifier.begin(&malformed).unwrap_err().status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn streaming_over_the_limit_is_rejected_by_update() {
    let secret = secret("limit");
    let verifier = Verifier::new(secret.clone()).with_body_limit(10);
    let headers = with_header(
        unsigned_headers("ping"),
        "x-hub-signature-256",
        &sign(&secret, b"{}"),
    );
    let mut pending = verifier.begin(&headers).unwrap();
    pending.update(Bytes::from_static(b"0123456")).unwrap();
    pending.update(Bytes::from_static(b"789")).unwrap();
    assert_eq!(pending.received(), 10);
    let error = pending.update(Bytes::from_static(b"a")).unwrap_err();
    assert!(
        matches!(error, Error::BodyTooLarge { limit: 10 }),
        "{error:?}"
    );
    // The refused chunk was not counted.
    assert_eq!(pending.received(), 10);
}

#[test]
fn repeated_signature_headers_are_rejected() {
    let secret = secret("twice");
    let body = Bytes::from_static(b"{}");
    let good = sign(&secret, &body);
    let verifier = Verifier::new(secret.clone()).allow_legacy_sha1();

    // Two identical, valid SHA-256 headers are still refused.
    let twice = with_header(
        with_header(unsigned_headers("ping"), "x-hub-signature-256", &good),
        "x-hub-signature-256",
        &good,
    );
    let error = verifier.verify(&twice, body.clone()).unwrap_err();
    assert!(
        matches!(
            error,
            Error::MalformedSignature {
                header: "X-Hub-Signature-256",
                kind: SignatureFormatError::Repeated,
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED);

    // A wrong one first and the right one second cannot be used to pass.
    let wrong = sign(&self::secret("other"), &body);
    let mixed = with_header(
        with_header(unsigned_headers("ping"), "x-hub-signature-256", &wrong),
        "x-hub-signature-256",
        &good,
    );
    assert!(verifier.verify(&mixed, body.clone()).is_err());

    // Repeated legacy headers too.
    let sha1 = sign_legacy_sha1(&secret, &body);
    let twice_sha1 = with_header(
        with_header(unsigned_headers("ping"), "x-hub-signature", &sha1),
        "x-hub-signature",
        &sha1,
    );
    assert!(matches!(
        verifier.verify(&twice_sha1, body),
        Err(Error::MalformedSignature {
            header: "X-Hub-Signature",
            kind: SignatureFormatError::Repeated,
        })
    ));
}

#[test]
fn signature_display_round_trips_the_documented_value() {
    let parsed = Signature256::parse(GITHUB_SHA256.as_bytes()).unwrap();
    assert_eq!(parsed.to_string(), GITHUB_SHA256);
    assert_eq!(parsed.as_bytes()[0], 0x75);
    assert_eq!(parsed.as_bytes()[31], 0x17);
}

/// `levels` nested objects, `{"a":{"a":…{}}}`, and the same in an array wrapper.
fn nested_object(levels: usize) -> Vec<u8> {
    let mut body = r#"{"a":"#.repeat(levels.saturating_sub(1));
    body.push_str("{}");
    body.push_str(&"}".repeat(levels.saturating_sub(1)));
    body.into_bytes()
}

fn signed(secret: &WebhookSecret, content_type: &str, body: &[u8]) -> HeaderMap {
    let mut headers = with_header(
        unsigned_headers("push"),
        "x-hub-signature-256",
        &sign(secret, body),
    );
    headers.insert("content-type", HeaderValue::from_str(content_type).unwrap());
    headers
}

#[test]
fn json_nesting_is_limited_to_what_serde_json_parses_by_default() {
    let secret = secret("depth");
    let verifier = Verifier::new(secret.clone());
    assert_eq!(verifier.payload_check(), PayloadCheck::WhenRead);
    assert_eq!(octohook::DEFAULT_MAX_JSON_DEPTH, 127);
    let on_verify = verifier
        .clone()
        .with_payload_check(PayloadCheck::on_verify());
    assert_eq!(on_verify.payload_check().max_depth(), Some(127));

    let at_limit = Bytes::from(nested_object(127));
    let headers = signed(&secret, "application/json", &at_limit);
    for verifier in [&verifier, &on_verify] {
        let delivery = verifier.verify(&headers, at_limit.clone()).unwrap();
        delivery.check_payload().unwrap();
        // What is accepted parses with serde_json's own (recursive) parser.
        delivery.json_value().unwrap();
    }

    let over = nested_object(128);
    // serde_json refuses this level too: the default is exactly its limit.
    assert!(serde_json::from_slice::<serde_json::Value>(&over).is_err());
    let headers = signed(&secret, "application/json", &over);
    let error = on_verify
        .verify(&headers, Bytes::from(over.clone()))
        .unwrap_err();
    assert!(
        matches!(error, Error::PayloadTooDeep { limit: 127 }),
        "{error:?}"
    );
    assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error.to_string(),
        "payload nests arrays and objects deeper than 127 levels"
    );
    // Checked where it is read: the same level is refused, with the same status.
    let delivery = verifier.verify(&headers, Bytes::from(over)).unwrap();
    let error = delivery.check_payload().unwrap_err();
    assert!(error.to_string().contains("recursion limit"), "{error}");
    assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    assert_eq!(delivery.action(), None);
    assert!(delivery.json_value().is_err());

    // Above serde_json's limit, the JSON check still stops where it does: what
    // verification lets through always parses.
    let deeper = Bytes::from(nested_object(128));
    let headers = signed(&secret, "application/json", &deeper);
    let verifier = Verifier::new(secret).with_max_json_depth(128);
    let error = verifier.verify(&headers, deeper).unwrap_err();
    assert!(error.to_string().contains("recursion limit"), "{error}");
}

#[test]
fn a_payload_is_parsed_once_where_it_is_read() {
    let secret = secret("once");
    let body = Bytes::from_static(br#"{"action":"opened","issue":{"number":7}}"#);
    let headers = signed(&secret, "application/json", &body);
    let delivery = Verifier::new(secret.clone())
        .verify(&headers, body)
        .unwrap();
    assert!(
        format!("{delivery:?}").contains("action: None"),
        "not read yet"
    );
    // A clone made before the check reads it itself; one made after shares it.
    let early = delivery.clone();
    assert_eq!(delivery.action(), Some("opened"));
    assert!(format!("{delivery:?}").contains("opened"));
    assert!(format!("{:?}", delivery.clone()).contains("opened"));
    assert!(!format!("{early:?}").contains("opened"));
    assert_eq!(early.action(), Some("opened"));

    // A correctly signed body that is not JSON verifies, and every way of reading
    // it refuses it with 400.
    let garbage = Bytes::from_static(b"{\"action\":\"opened\",");
    let headers = signed(&secret, "application/json", &garbage);
    let delivery = Verifier::new(secret).verify(&headers, garbage).unwrap();
    for error in [
        delivery.check_payload().unwrap_err(),
        delivery.json_value().unwrap_err(),
        delivery.parse::<serde::de::IgnoredAny>().unwrap_err(),
    ] {
        assert!(matches!(error, Error::InvalidPayload(_)), "{error:?}");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(delivery.action(), None);
    let mut line = Vec::new();
    let error = octohook::DeliveryRecord::new(&delivery, std::time::UNIX_EPOCH)
        .write_line(&mut line)
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(line.is_empty(), "nothing written");
}

#[test]
fn json_nesting_limit_is_configurable_and_applies_to_forms() {
    let secret = secret("depth");
    let json = nested_object(10);
    let form = format!(
        "payload={}",
        form_urlencoded::byte_serialize(&json).collect::<String>()
    );
    for (content_type, body) in [
        ("application/json", json.clone()),
        ("application/x-www-form-urlencoded", form.into_bytes()),
    ] {
        let headers = signed(&secret, content_type, &body);
        let body = Bytes::from(body);
        let ten = Verifier::new(secret.clone()).with_max_json_depth(10);
        assert!(ten.verify(&headers, body.clone()).is_ok(), "{content_type}");
        let nine = Verifier::new(secret.clone()).with_max_json_depth(9);
        assert!(
            matches!(
                nine.verify(&headers, body.clone()),
                Err(Error::PayloadTooDeep { limit: 9 })
            ),
            "{content_type}"
        );
        // Streamed in chunks, the same answer.
        let mut pending = nine.begin(&headers).unwrap();
        for chunk in body.chunks(3) {
            pending.update(Bytes::copy_from_slice(chunk)).unwrap();
        }
        assert!(matches!(
            pending.finish(),
            Err(Error::PayloadTooDeep { limit: 9 })
        ));
    }
}

#[test]
fn a_million_levels_are_refused_without_overflowing_the_stack() {
    let secret = secret("depth");
    let objects = nested_object(1_000_000);
    let arrays = [
        &b"{\"a\":"[..],
        &b"[".repeat(1_000_000),
        &b"]".repeat(1_000_000),
        b"}",
    ]
    .concat();
    for (content_type, body) in [
        ("application/json", objects.clone()),
        ("application/json", arrays),
        (
            "application/x-www-form-urlencoded",
            [&b"payload="[..], &objects].concat(),
        ),
    ] {
        let headers = signed(&secret, content_type, &body);
        let on_verify = Verifier::new(secret.clone()).with_payload_check(PayloadCheck::on_verify());
        let delivery = Verifier::new(secret.clone())
            .verify(&headers, Bytes::from(body.clone()))
            .unwrap();
        // On a 64 KiB stack: the check at verification must not recurse.
        let error = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || on_verify.verify(&headers, Bytes::from(body)).err())
            .unwrap()
            .join()
            .unwrap();
        assert!(
            matches!(error, Some(Error::PayloadTooDeep { limit: 127 })),
            "{content_type}: {error:?}"
        );
        // Checked where it is read, serde_json stops at its recursion limit, on
        // a small stack too.
        let error = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || delivery.check_payload().err())
            .unwrap()
            .join()
            .unwrap();
        assert!(
            matches!(&error, Some(Error::InvalidPayload(e)) if e.to_string().contains("recursion limit")),
            "{content_type}: {error:?}"
        );
    }
}
