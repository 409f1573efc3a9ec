//! Logging in one line: `bigcommerce_app::logging::init()` at the top of `main`.
//!
//! The framework says why it refused a callback, a JWT or a token exchange through `tracing`;
//! without a subscriber those reasons go nowhere. [`init`] installs `tracing-subscriber`'s
//! formatter:
//!
//! - the filter comes from `RUST_LOG` (`RUST_LOG=debug`, `RUST_LOG=bigcommerce_app=debug,info`),
//!   by default `info` for the app and the framework and `warn` for the database driver;
//! - `BCAPP_LOG_FORMAT=json` writes one JSON object per line (for log collectors), `text` (the
//!   default) writes readable lines, coloured only when stderr is a terminal and `NO_COLOR` is
//!   not set; both on stderr.
//!
//! An app that sets up `tracing` itself does not call this.

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

/// Used when `RUST_LOG` is not set: the app's and the framework's `info`, the drivers' warnings
/// (sqlx logs every slow statement at `info`).
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,hyper=warn";

/// Why [`try_init`] did not install the subscriber.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoggingError {
    /// `RUST_LOG` does not parse.
    #[error("RUST_LOG={value:?} is not a valid filter: {source}")]
    Filter {
        /// The value given.
        value: String,
        #[source]
        /// Why it does not parse.
        source: tracing_subscriber::filter::ParseError,
    },
    /// `BCAPP_LOG_FORMAT` is neither `text` nor `json`.
    #[error("BCAPP_LOG_FORMAT={0:?} is not valid: use `text` or `json`")]
    Format(String),
    /// A global subscriber is installed already.
    #[error("a tracing subscriber is already installed: {0}")]
    AlreadySet(#[source] tracing_subscriber::util::TryInitError),
}

/// Installs the log formatter (see the module docs). A bad `RUST_LOG` or `BCAPP_LOG_FORMAT` is
/// reported on stderr and the defaults are used: logging set-up never stops the app. Calling
/// it twice does nothing the second time.
pub fn init() {
    match try_init() {
        Ok(()) | Err(LoggingError::AlreadySet(_)) => {}
        Err(e) => {
            eprintln!("warning: {e}; logging with the defaults ({DEFAULT_FILTER}, text)");
            // Nothing is installed yet: the defaults cannot fail to parse.
            let _ = install(EnvFilter::new(DEFAULT_FILTER), false);
        }
    }
}

/// Like [`init`], but returns what is wrong instead of falling back to the defaults.
pub fn try_init() -> Result<(), LoggingError> {
    // `./.env` too, like the rest of the settings; a broken file is reported by `Config`.
    let (filter, json) =
        settings(|name| bigcommerce_app_store::env_file::lookup(name).ok().flatten())?;
    install(filter, json)
}

/// The filter and whether to write JSON, from `RUST_LOG` and `BCAPP_LOG_FORMAT`.
fn settings(lookup: impl Fn(&str) -> Option<String>) -> Result<(EnvFilter, bool), LoggingError> {
    let filter = match lookup("RUST_LOG") {
        Some(value) if !value.trim().is_empty() => {
            EnvFilter::try_new(&value).map_err(|source| LoggingError::Filter { value, source })?
        }
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    let json = match lookup("BCAPP_LOG_FORMAT") {
        None => false,
        Some(value) => match value.trim() {
            "" | "text" => false,
            "json" => true,
            _ => return Err(LoggingError::Format(value)),
        },
    };
    Ok((filter, json))
}

fn install(filter: EnvFilter, json: bool) -> Result<(), LoggingError> {
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        // Colours only for a person at a terminal, and never with NO_COLOR set (no-color.org):
        // escape codes in a log file or a collector are noise.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(ansi),
            )
            .try_init()
    };
    result.map_err(LoggingError::AlreadySet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn reads_the_filter_and_the_format() {
        let (filter, json) = settings(lookup(&[])).unwrap();
        assert_eq!(
            filter.to_string(),
            EnvFilter::new(DEFAULT_FILTER).to_string()
        );
        assert!(!json);
        let (filter, json) = settings(lookup(&[
            ("RUST_LOG", "bigcommerce_app=debug"),
            ("BCAPP_LOG_FORMAT", "json"),
        ]))
        .unwrap();
        assert_eq!(filter.to_string(), "bigcommerce_app=debug");
        assert!(json);
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let err = settings(lookup(&[("RUST_LOG", "info,=[")])).unwrap_err();
        assert!(err.to_string().contains("RUST_LOG"), "{err}");
        let err = settings(lookup(&[("BCAPP_LOG_FORMAT", "yaml")])).unwrap_err();
        assert!(err.to_string().contains("BCAPP_LOG_FORMAT"), "{err}");
    }
}
