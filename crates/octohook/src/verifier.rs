//! Signature verification: the configured secrets, and a delivery being verified
//! while its body streams in.

use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha1::Sha1;
use sha2::Sha256;

use crate::body_budget::BudgetHold;
use crate::delivery_headers::{HeaderScan, Slot, single};
use crate::signature::{sha1_key, sha256_key};
use crate::{
    BodyBudget, DeliveryHeaders, Error, PayloadCheck, RawHeaders, Signature1, Signature256,
    SignatureAlgorithm, VerifiedDelivery, WebhookSecret,
};

/// GitHub caps payloads at 25 MiB; this is the default body limit.
pub const DEFAULT_BODY_LIMIT: u64 = 25 * 1024 * 1024;

/// Which of the configured secrets verified a delivery: 0 for the first one given to
/// [`Verifier::new`], 1 for the next [`Verifier::with_secret`], and so on.
///
/// During a secret rotation, a receiver logs this so the operator can see when the
/// old secret stops being used and retire it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretIndex(pub usize);

/// One secret's HMAC states, keyed once at set-up so a request only clones them.
#[derive(Clone)]
struct KeyedSecret {
    sha256: Hmac<Sha256>,
    sha1: Hmac<Sha1>,
}

/// Verifies deliveries against one or more secrets.
///
/// Cheap to clone (the keyed HMAC states are shared). Only `X-Hub-Signature-256` is
/// accepted unless [`Verifier::allow_legacy_sha1`] is called, and even then SHA-1 is
/// used only when no `X-Hub-Signature-256` header was sent.
///
/// ```
/// use bytes::Bytes;
/// use http::HeaderMap;
/// use octohook::{sign, EventKind, Verifier, WebhookSecret};
///
/// let secret = WebhookSecret::new("It's a Secret to Everybody").unwrap();
/// let body = Bytes::from_static(br#"{"zen":"Keep it logically awesome.","hook_id":1}"#);
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-github-event", "ping".parse().unwrap());
/// headers.insert("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
/// headers.insert("content-type", "application/json".parse().unwrap());
/// headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
///
/// let verifier = Verifier::new(secret);
/// let delivery = verifier.verify(&headers, body).unwrap();
/// assert_eq!(delivery.event_kind(), &EventKind::Ping);
/// assert_eq!(delivery.action(), None);
/// ```
#[derive(Clone)]
pub struct Verifier {
    secrets: Arc<[KeyedSecret]>,
    allow_sha1: bool,
    body_limit: u64,
    payload_check: PayloadCheck,
    budget: Option<BodyBudget>,
}

impl Verifier {
    /// A verifier for one secret, SHA-256 only, with the default 25 MiB body limit,
    /// leaving the payload's JSON to the code that reads it
    /// ([`PayloadCheck::WhenRead`]).
    pub fn new(secret: WebhookSecret) -> Self {
        Self {
            secrets: Arc::new([KeyedSecret::new(&secret)]),
            allow_sha1: false,
            body_limit: DEFAULT_BODY_LIMIT,
            payload_check: PayloadCheck::WhenRead,
            budget: Some(BodyBudget::process_default()),
        }
    }

    /// Also accepts deliveries signed with `secret`; tried after the ones before it.
    ///
    /// ```
    /// use octohook::{sign, SecretIndex, Verifier, WebhookSecret};
    ///
    /// let old = WebhookSecret::new("old").unwrap();
    /// let new = WebhookSecret::new("new").unwrap();
    /// let verifier = Verifier::new(new).with_secret(old.clone());
    /// let signature = sign(&old, b"{}");
    /// assert_eq!(verifier.verify_signature_256(signature.as_bytes(), b"{}").unwrap(), SecretIndex(1));
    /// ```
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        let mut secrets = self.secrets.to_vec();
        secrets.push(KeyedSecret::new(&secret));
        self.secrets = secrets.into();
        self
    }

    /// Accepts the legacy SHA-1 `X-Hub-Signature` header, but only on deliveries that
    /// carry no `X-Hub-Signature-256` header (GitHub sends both).
    ///
    /// SHA-1 is weak: enable this only for old GitHub Enterprise Server versions that
    /// do not send `X-Hub-Signature-256`.
    pub fn allow_legacy_sha1(mut self) -> Self {
        self.allow_sha1 = true;
        self
    }

    /// Sets the largest body accepted, in bytes (default 25 MiB, GitHub's cap).
    pub fn with_body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The largest body accepted, in bytes.
    pub fn body_limit(&self) -> u64 {
        self.body_limit
    }

    /// Sets when the payload's JSON is checked: where it is read (the default), or
    /// during verification. See [`PayloadCheck`] and what a
    /// [`VerifiedDelivery`](VerifiedDelivery#what-it-guarantees-about-the-payload)
    /// then guarantees.
    pub fn with_payload_check(mut self, check: PayloadCheck) -> Self {
        self.payload_check = check;
        self
    }

    /// Checks the payload during verification, refusing one nested deeper than
    /// `levels` (`{}` is one level, `{"a":[]}` two) or not a JSON object, both
    /// with 400: [`with_payload_check`](Self::with_payload_check)`(`[`PayloadCheck::OnVerify`]` { max_depth: levels })`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{HeaderMap, StatusCode};
    /// use octohook::{sign, Error, Verifier, WebhookSecret};
    ///
    /// let secret = WebhookSecret::new("s3cret").unwrap();
    /// let body = Bytes::from_static(br#"{"a":{"b":{"c":{}}}}"#);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-github-event", "push".parse().unwrap());
    /// headers.insert("x-github-delivery", "a1".parse().unwrap());
    /// headers.insert("content-type", "application/json".parse().unwrap());
    /// headers.insert("x-hub-signature-256", sign(&secret, &body).parse().unwrap());
    ///
    /// let verifier = Verifier::new(secret);
    /// assert!(verifier.clone().with_max_json_depth(4).verify(&headers, body.clone()).is_ok());
    /// let error = verifier.with_max_json_depth(3).verify(&headers, body).unwrap_err();
    /// assert!(matches!(error, Error::PayloadTooDeep { limit: 3 }));
    /// assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    /// ```
    pub fn with_max_json_depth(self, levels: usize) -> Self {
        self.with_payload_check(PayloadCheck::OnVerify { max_depth: levels })
    }

    /// Bounds the bytes of bodies held before verification with `budget`,
    /// shared with every clone of this verifier and every verifier given the
    /// same budget (instead of the process's default one; see [`BodyBudget`]).
    pub fn with_body_budget(mut self, budget: BodyBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// No bound on the bytes of bodies held before verification, beyond the
    /// per-body limit: for a verifier that only sees bodies already in memory.
    pub fn without_body_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// The budget of unverified bodies, if any.
    pub fn body_budget(&self) -> Option<&BodyBudget> {
        self.budget.as_ref()
    }

    /// When the payload's JSON is checked.
    pub fn payload_check(&self) -> PayloadCheck {
        self.payload_check
    }

    /// Whether the legacy SHA-1 header is accepted.
    pub fn legacy_sha1_allowed(&self) -> bool {
        self.allow_sha1
    }

    /// How many secrets are configured.
    pub fn secret_count(&self) -> usize {
        self.secrets.len()
    }

    /// Verifies a whole delivery whose body is already in memory.
    /// The body is in memory already, so it takes nothing of the
    /// [`BodyBudget`].
    pub fn verify(&self, headers: &HeaderMap, body: Bytes) -> Result<VerifiedDelivery, Error> {
        // The same checks, in the same order, as `begin`, `update` and `finish`,
        // without the streaming state: the whole body is hashed in one call.
        let (expected, delivery, raw_headers, _) = self.check_headers(headers)?;
        if body.len() as u64 > self.body_limit {
            return Err(Error::BodyTooLarge {
                limit: self.body_limit,
            });
        }
        // Each secret's keyed MAC over the whole body, in the configured order.
        fn over<'a, M: Mac + Clone + 'a>(
            keys: impl Iterator<Item = &'a M> + 'a,
            body: &'a [u8],
        ) -> impl Iterator<Item = M> + 'a {
            keys.map(move |key| key.clone().chain_update(body))
        }
        let keys = self.secrets.iter();
        let algorithm = expected.algorithm();
        let secret = match expected {
            Expected::Sha256(sent) => {
                first_match(over(keys.map(|s| &s.sha256), &body), sent.as_bytes())
            }
            Expected::Sha1(sent) => {
                first_match(over(keys.map(|s| &s.sha1), &body), sent.as_bytes())
            }
        }?;
        VerifiedDelivery::decode(
            delivery,
            raw_headers,
            body,
            secret,
            algorithm,
            self.payload_check.max_depth(),
        )
    }

    /// Checks a delivery's headers before its body is read, and returns the state
    /// that verifies the body chunk by chunk.
    ///
    /// This rejects, without reading any body: missing or malformed delivery or
    /// signature headers, an unsupported content type, and a `Content-Length` over
    /// the limit.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::HeaderMap;
    /// use octohook::{sign, Verifier, WebhookSecret};
    ///
    /// let secret = WebhookSecret::new("s3cret").unwrap();
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-github-event", "issues".parse().unwrap());
    /// headers.insert("x-github-delivery", "f0e1d2c3".parse().unwrap());
    /// headers.insert("content-type", "application/json".parse().unwrap());
    /// headers.insert("x-hub-signature-256", sign(&secret, br#"{"action":"opened"}"#).parse().unwrap());
    ///
    /// let mut pending = Verifier::new(secret).begin(&headers).unwrap();
    /// for chunk in [&br#"{"action":"#[..], br#""opened"}"#] {
    ///     pending.update(Bytes::from_static(chunk)).unwrap();
    /// }
    /// assert_eq!(pending.finish().unwrap().action(), Some("opened"));
    /// ```
    pub fn begin(&self, headers: &HeaderMap) -> Result<PendingDelivery, Error> {
        let mut pending = self.begin_unbudgeted(headers)?;
        if let Some(budget) = &self.budget {
            let mut hold = budget.hold();
            if let Some(announced) = pending.announced {
                hold.grow_to(announced)?;
            }
            pending.hold = Some(hold);
        }
        Ok(pending)
    }

    /// Everything checked before the body: the signature header, the delivery
    /// headers and the announced length.
    fn check_headers(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Expected, DeliveryHeaders, RawHeaders, Option<u64>), Error> {
        let headers = HeaderScan::new(headers);
        let expected = self.expected_signature(&headers)?;
        let delivery = DeliveryHeaders::from_scan(&headers)?;
        let announced = content_length(&headers)?;
        if announced.is_some_and(|length| length > self.body_limit) {
            return Err(Error::BodyTooLarge {
                limit: self.body_limit,
            });
        }
        Ok((
            expected,
            delivery,
            RawHeaders::from_scan(&headers),
            announced,
        ))
    }

    fn begin_unbudgeted(&self, headers: &HeaderMap) -> Result<PendingDelivery, Error> {
        let (expected, delivery, raw_headers, announced) = self.check_headers(headers)?;
        let running = match expected {
            Expected::Sha256(expected) => Running::Sha256 {
                expected,
                macs: MacSet::new(self.secrets.iter().map(|s| &s.sha256)),
            },
            Expected::Sha1(expected) => Running::Sha1 {
                expected,
                macs: MacSet::new(self.secrets.iter().map(|s| &s.sha1)),
            },
        };
        Ok(PendingDelivery {
            headers: delivery,
            raw_headers,
            running,
            body: BodyBuffer::new(announced.unwrap_or(0).min(self.body_limit)),
            received: 0,
            announced,
            hold: None,
            body_limit: self.body_limit,
            payload_check: self.payload_check,
        })
    }

    /// Verifies an `X-Hub-Signature-256` value against a body, and says which secret
    /// matched. Use this when the delivery headers are handled elsewhere.
    pub fn verify_signature_256(&self, header: &[u8], body: &[u8]) -> Result<SecretIndex, Error> {
        let expected = Signature256::parse(header).map_err(|kind| Error::MalformedSignature {
            header: "X-Hub-Signature-256",
            kind,
        })?;
        let macs = self.secrets.iter().map(|s| {
            let mut mac = s.sha256.clone();
            mac.update(body);
            mac
        });
        first_match(macs, expected.as_bytes())
    }

    fn expected_signature(&self, headers: &HeaderScan<'_>) -> Result<Expected, Error> {
        const SHA256: &str = "X-Hub-Signature-256";
        const SHA1: &str = "X-Hub-Signature";
        let malformed = |header| move |kind| Error::MalformedSignature { header, kind };
        let repeated = |header| {
            move |_| Error::MalformedSignature {
                header,
                kind: crate::SignatureFormatError::Repeated,
            }
        };
        if let Some(value) =
            single(headers, Slot::Signature256, SHA256).map_err(repeated(SHA256))?
        {
            return Signature256::parse(value.as_bytes())
                .map(Expected::Sha256)
                .map_err(malformed(SHA256));
        }
        match single(headers, Slot::Signature1, SHA1).map_err(repeated(SHA1))? {
            None => Err(Error::MissingSignature),
            Some(_) if !self.allow_sha1 => Err(Error::Sha1NotEnabled),
            Some(value) => Signature1::parse(value.as_bytes())
                .map(Expected::Sha1)
                .map_err(malformed(SHA1)),
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("allow_legacy_sha1", &self.allow_sha1)
            .field("body_limit", &self.body_limit)
            .field("payload_check", &self.payload_check)
            .finish()
    }
}

impl KeyedSecret {
    fn new(secret: &WebhookSecret) -> Self {
        Self {
            sha256: sha256_key(secret),
            sha1: sha1_key(secret),
        }
    }
}

/// The announced body length; a malformed `Content-Length` is a bad request.
fn content_length(headers: &HeaderScan<'_>) -> Result<Option<u64>, Error> {
    single(headers, Slot::ContentLength, "Content-Length")?
        .map(|value| {
            crate::ids::parse_decimal(value.as_bytes()).ok_or(Error::InvalidHeader {
                header: "Content-Length",
                reason: "not a decimal number",
            })
        })
        .transpose()
}

/// The first secret whose MAC matches, compared in constant time by `verify_slice`.
fn first_match<M: Mac>(
    macs: impl IntoIterator<Item = M>,
    expected: &[u8],
) -> Result<SecretIndex, Error> {
    macs.into_iter()
        .position(|mac| mac.verify_slice(expected).is_ok())
        .map(SecretIndex)
        .ok_or(Error::SignatureMismatch)
}

#[derive(Clone, Copy)]
enum Expected {
    Sha256(Signature256),
    Sha1(Signature1),
}

impl Expected {
    fn algorithm(self) -> SignatureAlgorithm {
        match self {
            Self::Sha256(_) => SignatureAlgorithm::Sha256,
            Self::Sha1(_) => SignatureAlgorithm::LegacySha1,
        }
    }
}

/// The signature a delivery claims, and one running MAC per configured secret.
enum Running {
    Sha256 {
        expected: Signature256,
        macs: MacSet<Hmac<Sha256>>,
    },
    Sha1 {
        expected: Signature1,
        macs: MacSet<Hmac<Sha1>>,
    },
}

/// One MAC per secret; the first is held inline, so the usual single-secret
/// verifier allocates nothing per request.
struct MacSet<M> {
    first: M,
    rest: Vec<M>,
}

impl<M: Mac + Clone> MacSet<M> {
    fn new<'a>(mut keyed: impl Iterator<Item = &'a M>) -> Self
    where
        M: 'a,
    {
        let first = keyed
            .next()
            .expect("a verifier has at least one secret")
            .clone();
        Self {
            first,
            rest: keyed.cloned().collect(),
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        self.first.update(chunk);
        self.rest.iter_mut().for_each(|mac| mac.update(chunk));
    }

    fn first_match(self, expected: &[u8]) -> Result<SecretIndex, Error> {
        first_match(std::iter::once(self.first).chain(self.rest), expected)
    }
}

/// A delivery whose headers passed and whose body is being hashed as it arrives.
///
/// Feed each chunk to [`update`](Self::update) as it is read (the limit is enforced
/// there, before the chunk is hashed or kept), then call [`finish`](Self::finish).
pub struct PendingDelivery {
    headers: DeliveryHeaders,
    /// GitHub's headers as received, kept with the delivery.
    raw_headers: RawHeaders,
    running: Running,
    body: BodyBuffer,
    received: u64,
    /// The `Content-Length`, if sent.
    announced: Option<u64>,
    /// What the body holds of the verifier's budget, given back when the
    /// pending delivery is finished or dropped.
    hold: Option<BudgetHold>,
    body_limit: u64,
    payload_check: PayloadCheck,
}

impl PendingDelivery {
    /// The delivery headers, already parsed.
    pub fn headers(&self) -> &DeliveryHeaders {
        &self.headers
    }

    /// The `tracing` span of this delivery (its GUID, event and hook id), for an
    /// adapter to enter while the body is read and the handler runs, so that
    /// their logs carry it. The event is not signed yet: it is cut to a few
    /// dozen bytes and escaped.
    pub fn span(&self) -> tracing::Span {
        let headers = &self.headers;
        tracing::info_span!(
            "delivery",
            delivery = %headers.guid(),
            event = %crate::ClientBytes::new(headers.event().as_str().as_bytes()),
            hook_id = headers.hook_id().map(|id| id.get()),
        )
    }

    /// How many body bytes have been fed so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Feeds the next chunk of the body. Fails, without keeping the chunk, once the
    /// body would exceed the limit.
    pub fn update(&mut self, chunk: Bytes) -> Result<(), Error> {
        let received = self.received.saturating_add(chunk.len() as u64);
        if received > self.body_limit {
            return Err(Error::BodyTooLarge {
                limit: self.body_limit,
            });
        }
        if let Some(hold) = &mut self.hold {
            hold.grow_to(received)?;
        }
        self.received = received;
        match &mut self.running {
            Running::Sha256 { macs, .. } => macs.update(&chunk),
            Running::Sha1 { macs, .. } => macs.update(&chunk),
        }
        self.body.push(chunk);
        Ok(())
    }

    /// Checks the signature in constant time, then decodes a form body's `payload`
    /// field and, with [`PayloadCheck::OnVerify`], checks the JSON payload.
    pub fn finish(self) -> Result<VerifiedDelivery, Error> {
        let (secret, algorithm) = match self.running {
            Running::Sha256 { expected, macs } => (
                macs.first_match(expected.as_bytes())?,
                SignatureAlgorithm::Sha256,
            ),
            Running::Sha1 { expected, macs } => (
                macs.first_match(expected.as_bytes())?,
                SignatureAlgorithm::LegacySha1,
            ),
        };
        VerifiedDelivery::decode(
            self.headers,
            self.raw_headers,
            self.body.finish(),
            secret,
            algorithm,
            self.payload_check.max_depth(),
        )
    }
}

impl fmt::Debug for PendingDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingDelivery")
            .field("headers", &self.headers)
            .field("received", &self.received)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

/// The body as it arrives: a single chunk is kept as is (no copy); several are
/// gathered into one buffer sized from `Content-Length`.
struct BodyBuffer {
    capacity: usize,
    chunks: Chunks,
}

enum Chunks {
    None,
    One(Bytes),
    Many(BytesMut),
}

impl BodyBuffer {
    fn new(capacity_hint: u64) -> Self {
        Self {
            capacity: usize::try_from(capacity_hint).unwrap_or(0),
            chunks: Chunks::None,
        }
    }

    fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        match &mut self.chunks {
            Chunks::None => self.chunks = Chunks::One(chunk),
            Chunks::One(first) => {
                let capacity = self.capacity.max(first.len() + chunk.len());
                let mut all = BytesMut::with_capacity(capacity);
                all.extend_from_slice(first);
                all.extend_from_slice(&chunk);
                self.chunks = Chunks::Many(all);
            }
            Chunks::Many(all) => all.extend_from_slice(&chunk),
        }
    }

    fn finish(self) -> Bytes {
        match self.chunks {
            Chunks::None => Bytes::new(),
            Chunks::One(body) => body,
            Chunks::Many(body) => body.freeze(),
        }
    }
}
