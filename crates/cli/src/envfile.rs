//! `./.env`: the app's settings, read the way a development setup keeps them, by the same
//! reader as the app ([`bigcommerce_app::store::env_file`]): only the file in the current
//! directory, and a variable already set in the environment keeps its value. Here the file's
//! variables are also put into the process environment before the arguments are parsed, so
//! options that default to a variable (`--client-secret`, `--emulator`, ...) see them too.

use bigcommerce_app::store::{env_file, StoreError};

use crate::failure::Failure;

/// Reads `./.env` if there is one. `Ok(None)`: there is none; `Ok(Some(note))`: what was read,
/// for standard error. A file that cannot be parsed sets nothing.
pub fn load() -> Result<Option<String>, Failure> {
    let values = env_file::values().map_err(|e| {
        let message = match e {
            // The message names the file; the "configuration error" prefix adds nothing here.
            StoreError::Config(message) => message,
            other => other.to_string(),
        };
        Failure::new(message).hint(
            "fix the file (one NAME=value per line, # for comments) or remove it; \
             bcapp reads ./.env when there is one",
        )
    })?;
    if values.is_empty() && !env_file::path().exists() {
        return Ok(None);
    }
    let mut names: Vec<&String> = values.keys().collect();
    names.sort_unstable();
    let mut set: Vec<&str> = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for name in names {
        if std::env::var_os(name).is_some() {
            kept.push(name);
        } else {
            // Single-threaded still: the async runtime has not started.
            std::env::set_var(name, &values[name]);
            set.push(name);
        }
    }
    let mut note = format!("env file: read {}", env_file::path().display());
    match (set.is_empty(), kept.is_empty()) {
        (true, true) => note.push_str(" (no variables)"),
        (false, true) => note.push_str(&format!(" (set {})", set.join(", "))),
        (true, false) => note.push_str(&format!(
            " (all already set in the environment, kept: {})",
            kept.join(", ")
        )),
        (false, false) => note.push_str(&format!(
            " (set {}; already set in the environment, kept: {})",
            set.join(", "),
            kept.join(", ")
        )),
    }
    Ok(Some(note))
}
