//! What every crate needs to know about a scope's spelling: whether it is per store or per
//! channel, and how a delivered channel scope splits into its channel and the rest.

/// How a scope relates to channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    /// A store-level scope (`store/order/created`): one per store.
    Store,
    /// A channel scope delivered with a concrete channel id (`store/channel/1/order/created`,
    /// catalogued as `store/channel/{channel_id}/order/created`).
    ChannelTemplated,
    /// An all-channel scope whose `*` is literal (`store/channel/*/inventory/...`).
    AllChannels,
}

/// The prefix of every channel scope.
pub const CHANNEL_PREFIX: &str = "store/channel/";

/// Splits a delivered `store/channel/<digits>/<rest>` into the channel id and the rest;
/// `None` for any other scope (store scopes, `store/channel/*/...`, a bad id).
pub fn split_channel(scope: &str) -> Option<(u64, &str)> {
    let after = scope.strip_prefix(CHANNEL_PREFIX)?;
    let (id, rest) = after.split_once('/')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || rest.is_empty() {
        return None;
    }
    Some((id.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_delivered_channel_scopes_only() {
        assert_eq!(
            split_channel("store/channel/12/order/created"),
            Some((12, "order/created"))
        );
        for not in [
            "store/order/created",
            "store/channel/*/inventory/product/updated",
            "store/channel/{channel_id}/order/created",
            "store/channel/12",
            "store/channel/12/",
            "store/channel//order/created",
            "store/channel/99999999999999999999999/order/created",
        ] {
            assert_eq!(split_channel(not), None, "{not}");
        }
    }
}
