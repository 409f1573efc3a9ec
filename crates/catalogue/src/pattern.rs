//! Handler patterns: what `#[webhook_handler("...")]` accepts.
//!
//! Grammar (segments separated by `/`, always starting with `store`):
//! - an exact scope: `store/order/created` (doc spelling aliases are accepted);
//! - a wildcard as the last segment: `store/order/*` covers every concrete scope of the same kind
//!   whose spelling starts with `store/order/`;
//! - in channel scopes, the channel segment is `<id>` (any channel) or a number (that channel
//!   only): `store/channel/<id>/cart/*`, `store/channel/1/order/created`;
//! - the all-channel inventory scopes keep their literal `*`: `store/channel/*/inventory/product/*`.

use crate::validate::scope_kind;
use crate::{Catalogue, ScopeEntry, ScopeKind, CHANNEL_PLACEHOLDER, CHANNEL_PREFIX};

/// Which channels a channel pattern accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelSelector {
    /// `<id>`: every channel; the handler may take the `ChannelId`.
    Any,
    /// A number: only that channel.
    One(u64),
}

/// A parsed handler pattern (syntax checked, not yet resolved against a catalogue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern as written.
    pub raw: String,
    /// Which family of scopes it addresses.
    pub kind: ScopeKind,
    /// For channel-templated patterns: which channels.
    pub channel: Option<ChannelSelector>,
    /// The catalogue spelling it stands for (`{channel_id}` in the channel segment); for a
    /// wildcard, the prefix without the `*`.
    pub body: String,
    /// Whether it ends in `/*`.
    pub wildcard: bool,
}

/// Why a pattern is rejected. The messages are shown as compile errors on the pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("malformed webhook pattern `{pattern}`: {reason}")]
    /// The pattern is not of the form `store/...`, `store/channel/<id>/...` or `*`.
    Malformed {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    #[error("unknown webhook scope `{pattern}`{}", did_you_mean(.suggestions))]
    /// No catalogue scope is spelled like this.
    UnknownScope {
        /// The pattern as written.
        pattern: String,
        /// The closest catalogue scopes.
        suggestions: Vec<String>,
    },
    #[error("wildcard `{pattern}` matches no webhook scope{}", did_you_mean(.suggestions))]
    /// A wildcard that covers no catalogue scope.
    EmptyWildcard {
        /// The pattern as written.
        pattern: String,
        /// The closest catalogue scopes.
        suggestions: Vec<String>,
    },
    #[error(
        "`{pattern}` puts a channel id on `{scope}`, which is not a channel-templated scope; \
         write `{scope}`"
    )]
    /// A channel id on a scope that has no channel.
    ChannelOnStoreScope {
        /// The pattern as written.
        pattern: String,
        /// The store-level scope it names.
        scope: String,
    },
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        many => {
            let list: Vec<String> = many.iter().map(|s| format!("`{s}`")).collect();
            format!("; did you mean one of {}?", list.join(", "))
        }
    }
}

impl Pattern {
    /// Checks the syntax of a pattern.
    pub fn parse(pattern: &str) -> Result<Pattern, PatternError> {
        let malformed = |reason: &str| PatternError::Malformed {
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        };
        let segments: Vec<&str> = pattern.split('/').collect();
        if segments.first() != Some(&"store") || segments.len() < 2 {
            return Err(malformed("a pattern starts with `store/`"));
        }
        let last = segments.len() - 1;
        let channel_position = segments[1] == "channel" && segments.len() > 3;
        let mut channel = None;
        let mut kind = ScopeKind::Store;
        let mut body = Vec::with_capacity(segments.len());
        for (i, &segment) in segments.iter().enumerate() {
            if i == 2 && channel_position {
                match segment {
                    "<id>" | CHANNEL_PLACEHOLDER => {
                        channel = Some(ChannelSelector::Any);
                        kind = ScopeKind::ChannelTemplated;
                        body.push(CHANNEL_PLACEHOLDER);
                        continue;
                    }
                    "*" => {
                        kind = ScopeKind::AllChannels;
                        body.push("*");
                        continue;
                    }
                    s if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                        let id = s
                            .parse()
                            .map_err(|_| malformed("the channel id does not fit in 64 bits"))?;
                        channel = Some(ChannelSelector::One(id));
                        kind = ScopeKind::ChannelTemplated;
                        body.push(CHANNEL_PLACEHOLDER);
                        continue;
                    }
                    _ => {}
                }
            }
            match segment {
                "" => return Err(malformed("empty segment (`//` or a trailing `/`)")),
                "*" if i == last => {}
                "*" => return Err(malformed("`*` is only allowed as the last segment")),
                "<id>" | CHANNEL_PLACEHOLDER => {
                    return Err(malformed(
                        "`<id>` is only allowed as the channel segment: store/channel/<id>/...",
                    ))
                }
                s if s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {}
                _ => {
                    return Err(malformed(
                        "segments contain only letters, digits and `_` (plus `*` and `<id>`)",
                    ))
                }
            }
            body.push(segment);
        }
        let wildcard = segments[last] == "*";
        if wildcard && last < 1 {
            return Err(malformed("a wildcard needs a prefix"));
        }
        let mut body = body.join("/");
        if wildcard {
            body.pop(); // keep the trailing `/` of the prefix
        }
        Ok(Pattern {
            raw: pattern.to_owned(),
            kind,
            channel,
            body,
            wildcard,
        })
    }

    /// The concrete catalogue scopes this pattern matches, in catalogue order, or why none.
    pub fn resolve<'c>(
        &self,
        catalogue: &'c Catalogue,
    ) -> Result<Vec<&'c ScopeEntry>, PatternError> {
        if self.wildcard {
            let members: Vec<&ScopeEntry> = catalogue
                .concrete()
                .filter(|s| s.kind == self.kind && s.scope.starts_with(&self.body))
                .collect();
            if members.is_empty() {
                return Err(PatternError::EmptyWildcard {
                    pattern: self.raw.clone(),
                    suggestions: self.suggestions(catalogue, true),
                });
            }
            return Ok(members);
        }
        match catalogue.get(&self.body) {
            Some(entry) if !entry.wildcard && entry.kind == self.kind => Ok(vec![entry]),
            _ => {
                if self.kind == ScopeKind::ChannelTemplated {
                    // `store/channel/<id>/metafield/created` -> the store-level scope exists.
                    let without = self.body.replacen(
                        &format!("{CHANNEL_PREFIX}{CHANNEL_PLACEHOLDER}/"),
                        "store/",
                        1,
                    );
                    let store_level = format!(
                        "{CHANNEL_PREFIX}{}",
                        without.strip_prefix("store/").unwrap_or(&without)
                    );
                    for candidate in [store_level, without] {
                        if catalogue
                            .get(&candidate)
                            .is_some_and(|e| e.kind == ScopeKind::Store)
                        {
                            return Err(PatternError::ChannelOnStoreScope {
                                pattern: self.raw.clone(),
                                scope: candidate,
                            });
                        }
                    }
                }
                Err(PatternError::UnknownScope {
                    pattern: self.raw.clone(),
                    suggestions: self.suggestions(catalogue, false),
                })
            }
        }
    }

    /// The catalogue wildcard this pattern is spelled as, if any (`store/order/*`), so that a
    /// subscription can use BigCommerce's own wildcard instead of listing every scope.
    pub fn catalogue_wildcard<'c>(&self, catalogue: &'c Catalogue) -> Option<&'c ScopeEntry> {
        if !self.wildcard {
            return None;
        }
        catalogue
            .get(&format!("{}*", self.body))
            .filter(|e| e.wildcard && e.kind == self.kind)
    }

    fn suggestions(&self, catalogue: &Catalogue, wildcards_only: bool) -> Vec<String> {
        let mut typed = self.body.replace(CHANNEL_PLACEHOLDER, "<id>");
        if self.wildcard {
            typed.push('*');
        }
        let mut found = catalogue.suggestions(&typed, 3);
        if wildcards_only {
            found.retain(|s| s.ends_with('*'));
        }
        found
    }
}

/// `true` if `scope` (catalogue spelling) is a channel-templated scope.
pub fn is_channel_scope(scope: &str) -> bool {
    scope_kind(scope) == ScopeKind::ChannelTemplated
}
