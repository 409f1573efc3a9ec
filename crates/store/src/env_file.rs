//! `./.env`: settings kept in a file during development. [`crate::StoreConfig::from_env`] and
//! the framework's `Config::from_env` read a variable from the process environment first and
//! from `./.env` (the current directory's, not a parent's) when the environment does not set
//! it. The process environment is never modified.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Result, StoreError};

const FILE: &str = ".env";

/// Where the file is looked for: `./.env`, made absolute for messages.
pub fn path() -> PathBuf {
    std::path::absolute(FILE).unwrap_or_else(|_| PathBuf::from(FILE))
}

/// The variables of `./.env`, read once per process; empty when there is no such file. A file
/// that does not parse is an error naming it.
pub fn values() -> Result<&'static HashMap<String, String>> {
    static VALUES: OnceLock<std::result::Result<HashMap<String, String>, String>> = OnceLock::new();
    VALUES
        .get_or_init(|| read(Path::new(FILE)))
        .as_ref()
        .map_err(|e| StoreError::Config(e.clone()))
}

fn read(path: &Path) -> std::result::Result<HashMap<String, String>, String> {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let lines = match dotenvy::from_path_iter(path) {
        Ok(lines) => lines,
        Err(e) if e.not_found() => return Ok(HashMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", shown.display())),
    };
    let mut values = HashMap::new();
    for line in lines {
        let (name, value) = line.map_err(|e| {
            format!(
                "cannot read {}: {e} (one NAME=value per line, # for comments)",
                shown.display()
            )
        })?;
        // The first definition wins, as with dotenvy's own loader.
        values.entry(name).or_insert(value);
    }
    Ok(values)
}

/// A variable from the process environment, else from `./.env`. A `./.env` that does not parse
/// is an error naming the file.
pub fn lookup(name: &str) -> Result<Option<String>> {
    if let Ok(value) = std::env::var(name) {
        return Ok(Some(value));
    }
    Ok(values()?.get(name).cloned())
}

/// A lookup for the `from_lookup` constructors: the environment, then `./.env`. Reading
/// `./.env` first here surfaces a broken file as an error before any setting is read. The
/// first call logs which variables the file holds (here, not when the file is read: logging
/// reads `RUST_LOG` from it before a subscriber exists).
pub fn env_and_file() -> Result<impl Fn(&str) -> Option<String>> {
    static LOGGED: std::sync::Once = std::sync::Once::new();
    let values = values()?;
    LOGGED.call_once(|| {
        if !values.is_empty() {
            let mut names: Vec<&str> = values.keys().map(String::as_str).collect();
            names.sort_unstable();
            tracing::info!(file = %path().display(), variables = %names.join(", "), "settings read from the env file (the environment wins)");
        }
    });
    Ok(|name: &str| lookup(name).ok().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_file_and_reports_a_broken_one() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.env");
        std::fs::write(&good, "# comment\nA=1\nB=\"two words\"\nA=3\n").unwrap();
        let values = read(&good).unwrap();
        assert_eq!(values.get("A").map(String::as_str), Some("1"));
        assert_eq!(values.get("B").map(String::as_str), Some("two words"));
        let bad = dir.path().join("bad.env");
        std::fs::write(&bad, "NOT VALID LINE\n").unwrap();
        let err = read(&bad).unwrap_err();
        assert!(err.contains("bad.env"), "{err}");
        assert!(read(&dir.path().join("missing.env")).unwrap().is_empty());
    }
}
