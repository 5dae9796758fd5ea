//! Credentials the host holds for the guest (`abi.md`, "Injected headers"): header fields the
//! embedder binds to origin patterns, added by the host to requests it admitted for a matching
//! origin. The guest never sees the values and cannot set or override those names there.
//!
//! Values live in [`Secret`]s: wiped from memory when dropped, `<redacted>` in `Debug`, never
//! in error strings, logs or audit events (a request head holding one is wiped too; see
//! `client::Prepared`).

use crate::config::ConfigError;
use crate::http1::{self, HostField, RequestError};
use crate::policy::OriginPattern;
use crate::url::Origin;
use std::fmt;
use zeroize::Zeroizing;

/// Bytes that must not leak: zeroed on drop, redacted in `Debug`.
#[derive(Clone)]
pub(crate) struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub(crate) fn new(bytes: Vec<u8>) -> Secret {
        Secret(Zeroizing::new(bytes))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One injected header field, as the embedder configured it.
#[derive(Debug, Clone)]
pub(crate) struct Injection {
    /// The pattern as written, for messages.
    text: String,
    pattern: OriginPattern,
    name: String,
    value: Secret,
}

/// Every injected header of a context.
#[derive(Debug, Clone, Default)]
pub(crate) struct Injections(Vec<Injection>);

impl Injections {
    /// Checks each `(pattern, name, value)`: the pattern by the allow-list's syntax (no `!`, no
    /// `insecure:allow-all`), the field by [`http1::validate_injected_field`].
    pub(crate) fn parse(raw: Vec<(String, String, Secret)>) -> Result<Injections, ConfigError> {
        raw.into_iter()
            .map(|(text, name, value)| {
                let bad = |why: &str| {
                    ConfigError::new(format!("injected header `{name}` for `{text}`: {why}"))
                };
                let pattern = OriginPattern::parse(&text).map_err(|e| bad(&e))?;
                http1::validate_injected_field(&name, value.expose()).map_err(bad)?;
                Ok(Injection {
                    text,
                    pattern,
                    name,
                    value,
                })
            })
            .collect::<Result<_, _>>()
            .map(Injections)
    }

    /// Refuses a guest header block naming a field injected for `origin` (in any case or `_`
    /// spelling); else the fields to inject for `origin`, in configuration order, for
    /// [`http1::RequestParts::encode`] to write into the head (sized once, wiped on drop).
    pub(crate) fn for_origin(
        &self,
        origin: &Origin,
        header_block: &str,
    ) -> Result<Vec<HostField<'_>>, RequestError> {
        let matching = self.0.iter().filter(|i| i.pattern.matches(origin));
        if let Some(clash) = matching
            .clone()
            .find(|i| http1::block_names(header_block, &i.name))
        {
            log::debug!(
                "the guest set `{}`, injected for `{}`: refused",
                clash.name,
                clash.text
            );
            return Err(RequestError::ForbiddenHeader(clash.name.clone()));
        }
        Ok(matching
            .map(|i| (i.name.as_str(), i.value.expose()))
            .collect())
    }

    /// Whether there are none (the common case: nothing to check per request).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::parse_url;

    fn injections(raw: &[(&str, &str, &str)]) -> Result<Injections, ConfigError> {
        Injections::parse(
            raw.iter()
                .map(|(p, n, v)| ((*p).into(), (*n).into(), Secret::new(v.as_bytes().to_vec())))
                .collect(),
        )
    }

    fn head_for(i: &Injections, url: &str, block: &str) -> Result<String, RequestError> {
        let target = parse_url(url).map_err(|_| RequestError::Method)?;
        let fields = i.for_origin(&target.origin, block)?;
        let parts = http1::RequestParts {
            method: "GET",
            target: "/",
            authority: "h",
            header_block: "",
            body_len: 0,
        };
        let head = parts.encode(&fields)?;
        let added: usize = fields.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        assert_eq!(head.host_fields_len(), added);
        Ok(String::from_utf8_lossy(head.bytes()).into_owned())
    }

    #[test]
    fn fields_go_only_to_matching_origins() {
        let i = injections(&[
            ("https://api.example.com", "authorization", "Bearer t1"),
            ("https://*.example.com", "x-tenant", "acme"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let h = head_for(&i, "https://api.example.com/x", "").unwrap_or_default();
        assert!(
            h.ends_with("authorization: Bearer t1\r\nx-tenant: acme\r\n\r\n"),
            "{h}"
        );
        let h = head_for(&i, "https://www.example.com/x", "").unwrap_or_default();
        assert!(!h.contains("Bearer") && h.contains("x-tenant: acme"), "{h}");
        for other in [
            "http://api.example.com/",
            "https://api.example.com:8443/",
            "https://api.example.org/",
        ] {
            let h = head_for(&i, other, "").unwrap_or_default();
            assert!(!h.contains("Bearer"), "{other}: {h}");
        }
    }

    #[test]
    fn the_guest_cannot_set_an_injected_name_for_that_origin() {
        let i = injections(&[("https://api.example.com", "Authorization", "Bearer t1")])
            .unwrap_or_else(|e| panic!("{e}"));
        for block in [
            "authorization: mine",
            "AUTHORIZATION:x\n",
            "a:1\nAuthorization:",
        ] {
            assert_eq!(
                head_for(&i, "https://api.example.com/", block),
                Err(RequestError::ForbiddenHeader("Authorization".into())),
                "{block}"
            );
        }
        // Elsewhere the guest's own header is its business.
        assert!(head_for(&i, "https://other.example.com/", "authorization: mine").is_ok());
    }

    #[test]
    fn bad_configuration_is_refused_without_echoing_the_value() {
        for raw in [
            ("!https://a.example", "x-k", "v"),
            ("https://a.example/path", "x-k", "v"),
            ("https://a.example", "content-length", "v"),
            ("https://a.example", "x-k", "line\r\nbreak-secret"),
        ] {
            let e = injections(&[raw])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!e.is_empty(), "{raw:?} accepted");
            assert!(!e.contains("secret"), "{e}");
        }
        let i = injections(&[("https://a.example", "x-k", "hunter2")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{i:?}").contains("hunter2"));
    }
}
