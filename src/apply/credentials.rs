//! Our own credentials kept out of everything a server says back. A server that echoes the
//! `Authorization` header ("401: you sent Bearer …"), in an error or in an object it
//! serves, would otherwise put the token into the report, the JUnit file and the CI log.
//! Every form we send a credential in — the header value, the bearer token, a basic-auth
//! pair as base64, as `user:password` and the password alone — is looked for, as it is and
//! as a server would write it back: JSON-escaped (Go's encoder escapes `<`, `>` and `&`
//! too) and percent- or form-encoded. The search is one Aho-Corasick pass over the bytes,
//! linear in their length whatever the server sends, and it runs before a word of the
//! answer is parsed, cut short or escaped, so a cut can never leave half a token behind.
//!
//! The Kubernetes client gets it as a layer between the authentication kube adds and the
//! connection ([`HideCredentialsLayer`]): it notes the `Authorization` value of every request
//! as sent (a refreshed token file or exec plugin token included) and cleans every response
//! body as it streams, a watch's events line by line. Prometheus answers are cleaned whole
//! (`prometheus`).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use aho_corasick::{AhoCorasick, MatchKind};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::header::AUTHORIZATION;
use hyper::{Request, Response};

/// What a credential is replaced by.
pub(crate) const HIDDEN_CREDENTIAL: &str = "<hidden credential>";

/// The credentials to hide, compiled for searching; empty hides nothing. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    compiled: Option<Arc<Compiled>>,
}

struct Compiled {
    /// The header values these forms come from, to tell a new credential from a known one.
    headers: Vec<Vec<u8>>,
    forms: Vec<Vec<u8>>,
    automaton: AhoCorasick,
    /// The longest form, in bytes: how much of a streamed body may be the start of one.
    longest: usize,
}

impl Redactor {
    /// Hides every form of the credential sent as the `Authorization` header `value`.
    pub(crate) fn of_header(value: &[u8]) -> Redactor {
        Redactor::default().with_header(value)
    }

    /// This one, and every form of the credential in the `Authorization` header `value`.
    pub(crate) fn with_header(&self, value: &[u8]) -> Redactor {
        let (mut headers, mut forms) = match &self.compiled {
            Some(compiled) => (compiled.headers.clone(), compiled.forms.clone()),
            None => (Vec::new(), Vec::new()),
        };
        if headers.iter().any(|known| known == value) {
            return self.clone();
        }
        headers.push(value.to_vec());
        for secret in secrets_in_header(value) {
            for form in forms_of(&secret) {
                if !form.is_empty() && !forms.contains(&form) {
                    forms.push(form);
                }
            }
        }
        let longest = forms.iter().map(Vec::len).max().unwrap_or(0);
        // Leftmost-longest: of two forms starting at one place (a token and the header
        // value holding it), the longer one is hidden whole.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&forms);
        match automaton {
            Ok(automaton) if longest > 0 => Redactor {
                compiled: Some(Arc::new(Compiled {
                    headers,
                    forms,
                    automaton,
                    longest,
                })),
            },
            // Patterns too large for the automaton cannot come from a header (they are
            // limited to a few kilobytes); hide nothing rather than fail a request.
            _ => self.clone(),
        }
    }

    /// Whether `value` is a header value already known.
    fn knows_header(&self, value: &[u8]) -> bool {
        self.compiled
            .as_ref()
            .is_some_and(|c| c.headers.iter().any(|known| known == value))
    }

    fn is_empty(&self) -> bool {
        self.compiled.is_none()
    }

    /// `bytes` with every form of a known credential replaced by [`HIDDEN_CREDENTIAL`].
    pub(crate) fn clean_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(compiled) = &self.compiled else {
            return Cow::Borrowed(bytes);
        };
        if compiled.automaton.find(bytes).is_none() {
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        compiled
            .automaton
            .replace_all_with_bytes(bytes, &mut out, |_, _, out| {
                out.extend_from_slice(HIDDEN_CREDENTIAL.as_bytes());
                true
            });
        Cow::Owned(out)
    }

    /// `text` with every form of a known credential replaced by [`HIDDEN_CREDENTIAL`].
    pub(crate) fn clean<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.clean_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Forms and the marker are whole UTF-8 sequences or ASCII: replacing them in
            // UTF-8 text leaves UTF-8, and the lossy conversion never replaces anything.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// Takes what can be passed on from the start of a streamed body, cleaned: everything
    /// up to the last line break (no credential holds one, so a match never spans it; a
    /// watch's events go on at once) or up to where a credential could still be starting,
    /// whichever is later; everything when the body has `ended`.
    fn take_clean(&self, pending: &mut Vec<u8>, ended: bool) -> Vec<u8> {
        let Some(compiled) = &self.compiled else {
            return std::mem::take(pending);
        };
        let len = pending.len();
        let mut cut = if ended {
            len
        } else {
            let after_line = pending
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            after_line.max(len.saturating_sub(compiled.longest - 1))
        };
        let mut out = Vec::with_capacity(cut);
        let mut at = 0;
        for found in compiled.automaton.find_iter(pending.as_slice()) {
            if found.start() >= cut {
                break;
            }
            out.extend_from_slice(&pending[at..found.start()]);
            out.extend_from_slice(HIDDEN_CREDENTIAL.as_bytes());
            at = found.end();
            cut = cut.max(found.end());
        }
        out.extend_from_slice(&pending[at..cut]);
        pending.drain(..cut);
        out
    }
}

/// The secrets in an `Authorization` header value: the value itself; a bearer token; a
/// basic-auth pair as base64 (with and without its padding), as `user:password`, and the
/// password. A user name alone is not a secret.
fn secrets_in_header(value: &[u8]) -> Vec<Vec<u8>> {
    let mut secrets = vec![value.to_vec()];
    let text = String::from_utf8_lossy(value);
    let Some((scheme, credential)) = text.trim().split_once(' ') else {
        return secrets;
    };
    let credential = credential.trim();
    if credential.is_empty() {
        return secrets;
    }
    secrets.push(credential.as_bytes().to_vec());
    if scheme.eq_ignore_ascii_case("basic") {
        let unpadded = credential.trim_end_matches('=');
        secrets.push(unpadded.as_bytes().to_vec());
        let decoded = data_encoding::BASE64
            .decode(credential.as_bytes())
            .or_else(|_| data_encoding::BASE64_NOPAD.decode(unpadded.as_bytes()));
        if let Ok(pair) = decoded {
            if let Some(colon) = pair.iter().position(|&b| b == b':') {
                let password = &pair[colon + 1..];
                if !password.is_empty() {
                    secrets.push(password.to_vec());
                }
            }
            secrets.push(pair);
        }
    }
    secrets
}

/// A secret as a server may write it back: as it is, JSON-escaped (serde's way and Go's,
/// which also escapes `<`, `>`, `&`, U+2028 and U+2029), percent-encoded with upper- or
/// lower-case digits, and form-encoded (space as `+`).
fn forms_of(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = vec![secret.to_vec()];
    if let Ok(text) = std::str::from_utf8(secret) {
        let json = serde_json::Value::String(text.to_owned()).to_string();
        let json = json[1..json.len() - 1].to_owned();
        let go = json
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029");
        forms.push(json.into_bytes());
        forms.push(go.into_bytes());
    }
    for upper in [true, false] {
        for form in [false, true] {
            forms.push(percent_encode(secret, upper, form).into_bytes());
        }
    }
    forms
}

/// Every byte but RFC 3986's unreserved ones as `%XX`; with `form`, space as `+`.
fn percent_encode(bytes: &[u8], upper: bool, form: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &byte in bytes {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' if form => out.push('+'),
            _ if upper => out.push_str(&format!("%{byte:02X}")),
            _ => out.push_str(&format!("%{byte:02x}")),
        }
    }
    out
}

/// The credentials a client has sent so far, shared by its requests.
#[derive(Clone, Default)]
pub(crate) struct Sent(Arc<RwLock<Redactor>>);

impl Sent {
    /// Notes the `Authorization` value of a request about to be sent; returns what hides
    /// every credential sent so far.
    fn note(&self, value: Option<&[u8]>) -> Redactor {
        let known = self.0.read().map(|r| r.clone()).unwrap_or_default();
        let Some(value) = value.filter(|v| !known.knows_header(v)) else {
            return known;
        };
        match self.0.write() {
            Ok(mut redactor) => {
                *redactor = redactor.with_header(value);
                redactor.clone()
            }
            // A poisoned lock: a request panicked while noting its header; hide at least
            // this one.
            Err(_) => known.with_header(value),
        }
    }
}

/// A tower layer that sits below the authentication a client adds: it sees each request's
/// `Authorization` header as sent and cleans every response body of it.
#[derive(Clone, Default)]
pub(crate) struct HideCredentialsLayer {
    sent: Sent,
}

impl<S> tower::Layer<S> for HideCredentialsLayer {
    type Service = HideCredentials<S>;

    fn layer(&self, inner: S) -> HideCredentials<S> {
        HideCredentials {
            inner,
            sent: self.sent.clone(),
        }
    }
}

/// The service of [`HideCredentialsLayer`].
#[derive(Clone)]
pub(crate) struct HideCredentials<S> {
    inner: S,
    sent: Sent,
}

impl<S, RequestBody, ResponseBody> tower::Service<Request<RequestBody>> for HideCredentials<S>
where
    S: tower::Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
    ResponseBody: Body<Data = Bytes> + Unpin,
{
    type Response = Response<Scrubbed<ResponseBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let redactor = self.sent.note(
            request
                .headers()
                .get(AUTHORIZATION)
                .map(|value| value.as_bytes()),
        );
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| Scrubbed::new(body, redactor)))
        })
    }
}

/// A response body cleaned of credentials as it streams.
pub(crate) struct Scrubbed<B> {
    inner: B,
    redactor: Redactor,
    /// Received and not yet passed on: the end of a line, or what may start a credential.
    pending: Vec<u8>,
    ended: bool,
    trailers: Option<Frame<Bytes>>,
}

impl<B> Scrubbed<B> {
    fn new(inner: B, redactor: Redactor) -> Scrubbed<B> {
        Scrubbed {
            inner,
            redactor,
            pending: Vec::new(),
            ended: false,
            trailers: None,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Scrubbed<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if this.redactor.is_empty() {
            return Pin::new(&mut this.inner).poll_frame(cx);
        }
        loop {
            if this.ended {
                if !this.pending.is_empty() {
                    let clean = this.redactor.take_clean(&mut this.pending, true);
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(clean)))));
                }
                return Poll::Ready(this.trailers.take().map(Ok));
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.ended = true,
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.pending.extend_from_slice(&data);
                        let clean = this.redactor.take_clean(&mut this.pending, false);
                        if !clean.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(clean)))));
                        }
                    }
                    // Trailers come last: what is pending goes first.
                    Err(trailers) => {
                        this.trailers = Some(trailers);
                        this.ended = true;
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.redactor.is_empty() {
            return self.inner.is_end_stream();
        }
        self.ended && self.pending.is_empty() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.redactor.is_empty() {
            self.inner.size_hint()
        } else {
            // Hiding changes the length.
            SizeHint::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaned(redactor: &Redactor, text: &str) -> String {
        redactor.clean(text).into_owned()
    }

    #[test]
    fn a_bearer_token_is_hidden_as_sent_escaped_and_encoded() {
        let redactor = Redactor::of_header(b"Bearer tok+en/1=<&>");
        for echoed in [
            "you sent Bearer tok+en/1=<&>",
            "token tok+en/1=<&>",
            r#"{"message": "tok+en/1=\u003c\u0026\u003e"}"#,
            "?t=tok%2Ben%2F1%3D%3C%26%3E",
            "?t=tok%2ben%2f1%3d%3c%26%3e",
        ] {
            let text = cleaned(&redactor, echoed);
            assert!(text.contains(HIDDEN_CREDENTIAL), "{text}");
            assert!(
                !text.contains("tok+en") && !text.contains("tok%2"),
                "{text}"
            );
        }
        assert_eq!(
            cleaned(&redactor, "you sent Bearer tok+en/1=<&>."),
            "you sent <hidden credential>."
        );
        assert_eq!(cleaned(&redactor, "nothing here"), "nothing here");
        assert_eq!(
            cleaned(&Redactor::default(), "tok+en/1=<&>"),
            "tok+en/1=<&>"
        );
    }

    #[test]
    fn basic_auth_is_hidden_as_base64_as_a_pair_and_as_the_password() {
        let pair = "ops:p@ss w/rd";
        let header = format!("Basic {}", data_encoding::BASE64.encode(pair.as_bytes()));
        let redactor = Redactor::of_header(header.as_bytes());
        let base64 = data_encoding::BASE64.encode(pair.as_bytes());
        for echoed in [
            header.clone(),
            base64.clone(),
            base64.trim_end_matches('=').to_owned(),
            pair.to_owned(),
            "password p@ss w/rd".to_owned(),
            "p%40ss%20w%2Frd".to_owned(),
            "p%40ss+w%2Frd".to_owned(),
        ] {
            let text = cleaned(&redactor, &echoed);
            assert!(!text.contains("p@ss") && !text.contains("p%40"), "{text}");
            assert!(
                !text.contains(base64.trim_end_matches('=')),
                "{echoed} -> {text}"
            );
        }
        // The user alone is no secret.
        assert_eq!(cleaned(&redactor, "user ops"), "user ops");
    }

    #[test]
    fn a_second_credential_adds_to_the_first() {
        let redactor = Redactor::of_header(b"Bearer first-token").with_header(b"Bearer second");
        assert_eq!(
            cleaned(&redactor, "first-token second"),
            "<hidden credential> <hidden credential>"
        );
        assert!(redactor.knows_header(b"Bearer second"));
    }

    #[test]
    fn a_streamed_body_is_cleaned_across_chunks_and_passes_whole_lines_at_once() {
        let redactor = Redactor::of_header(b"Bearer abcdefgh");
        let mut pending = b"{\"a\": \"x\"}\n{\"b\": \"abcd".to_vec();
        // The first line goes on at once; the second may be starting the token.
        let first = redactor.take_clean(&mut pending, false);
        assert_eq!(first, b"{\"a\": \"x\"}\n");
        pending.extend_from_slice(b"efgh\"}\n");
        let second = redactor.take_clean(&mut pending, false);
        assert_eq!(second, b"{\"b\": \"<hidden credential>\"}\n");
        assert!(pending.is_empty());
        // Without line breaks, all but what may start a token goes on.
        let longest = redactor.compiled.as_ref().unwrap().longest;
        let mut pending = [b"x".repeat(40), b"abcdefg".to_vec()].concat();
        let out = redactor.take_clean(&mut pending, false);
        assert_eq!(out.len(), 47 - (longest - 1));
        assert!(pending.ends_with(b"abcdefg"));
        pending.extend_from_slice(b"h and more");
        let mut all = out;
        all.extend(redactor.take_clean(&mut pending, false));
        all.extend(redactor.take_clean(&mut pending, true));
        assert_eq!(
            String::from_utf8(all).unwrap(),
            format!("{}<hidden credential> and more", "x".repeat(40))
        );
    }
}
