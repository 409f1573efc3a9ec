//! `./.env`: the app's settings, read the way a development setup keeps them. Only the file in
//! the current directory is read (not one in a parent directory), and a variable already set in
//! the environment keeps its value. The file is read before the arguments are parsed, so options
//! that default to a variable (`--client-secret`, `--emulator`, ...) see its values too.

use std::path::{Path, PathBuf};

use crate::failure::Failure;

const FILE: &str = ".env";

/// Reads `./.env` if there is one. `Ok(None)`: there is none; `Ok(Some(note))`: what was read,
/// for standard error. A file that cannot be parsed sets nothing.
pub fn load() -> Result<Option<String>, Failure> {
    let path = Path::new(FILE);
    let shown = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(FILE));
    let unreadable = |e: dotenvy::Error| {
        Failure::new(format!("cannot read {}: {e}", shown.display())).hint(
            "fix the file (one NAME=value per line, # for comments) or remove it; \
             bcapp reads ./.env when there is one",
        )
    };
    let lines = match dotenvy::from_path_iter(path) {
        Ok(lines) => lines,
        Err(e) if e.not_found() => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    let pairs = lines
        .collect::<Result<Vec<(String, String)>, _>>()
        .map_err(unreadable)?;
    let mut set: Vec<String> = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    for (name, value) in pairs {
        if set.contains(&name) || kept.contains(&name) {
            // A repeated name: the first line wins, as with dotenvy's own loader.
            continue;
        }
        if std::env::var_os(&name).is_some() {
            kept.push(name);
        } else {
            // Single-threaded still: the async runtime has not started.
            std::env::set_var(&name, value);
            set.push(name);
        }
    }
    let mut note = format!("env file: read {}", shown.display());
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
