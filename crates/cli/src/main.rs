//! `bcapp`: the command line of bigcommerce-app.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use bigcommerce_app::{Envelope, Scope};
use clap::{Parser, Subcommand};
use serde_json::json;

/// Work with BigCommerce webhooks and bigcommerce-app apps.
#[derive(Parser)]
#[command(name = "bcapp", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the webhook scope catalogue.
    Scopes {
        /// Only scopes of this group (e.g. `order`, `cart`, `channel`).
        #[arg(long)]
        group: Option<String>,
        /// Print a JSON array of {scope, group, description, kind, wildcard, payload, aliases}.
        #[arg(long)]
        json: bool,
    },
    /// Parse one webhook callback body and print the typed event as JSON.
    ///
    /// Exits 2 with the problem and its JSON path when the body is not a valid callback.
    Parse {
        /// File holding the body; `-` or nothing reads standard input.
        file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scopes { group, json } => scopes(group.as_deref(), json),
        Command::Parse { file } => parse(file),
    }
}

fn kind_name(scope: Scope) -> &'static str {
    match scope.info().kind {
        bigcommerce_app::ScopeKind::Store => "store",
        bigcommerce_app::ScopeKind::ChannelTemplated => "channel",
        bigcommerce_app::ScopeKind::AllChannels => "all_channels",
    }
}

fn scopes(group: Option<&str>, as_json: bool) -> ExitCode {
    let selected: Vec<Scope> = Scope::ALL
        .into_iter()
        .filter(|s| group.is_none_or(|g| s.info().group == g))
        .collect();
    if selected.is_empty() {
        let mut groups: Vec<&str> = Scope::ALL.iter().map(|s| s.info().group).collect();
        groups.sort_unstable();
        groups.dedup();
        eprintln!(
            "error: no scope in group `{}`; groups are: {}",
            group.unwrap_or_default(),
            groups.join(", ")
        );
        return ExitCode::from(2);
    }
    if as_json {
        let items: Vec<serde_json::Value> = selected
            .iter()
            .map(|s| {
                let info = s.info();
                json!({
                    "scope": info.scope,
                    "group": info.group,
                    "description": info.description,
                    "kind": kind_name(*s),
                    "wildcard": info.wildcard,
                    "payload": info.payload,
                    "aliases": info.aliases,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(items));
        return ExitCode::SUCCESS;
    }
    let width = selected.iter().map(|s| s.as_str().len()).max().unwrap_or(0);
    for s in &selected {
        println!(
            "{:width$}  {:<18}  {}",
            s.as_str(),
            s.info().group,
            s.info().description
        );
    }
    ExitCode::SUCCESS
}

fn parse(file: Option<PathBuf>) -> ExitCode {
    let body = match file.as_deref() {
        None => read_stdin(),
        Some(p) if p.as_os_str() == "-" => read_stdin(),
        Some(p) => std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display())),
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match Envelope::from_slice(&body) {
        Ok(envelope) => {
            let out = json!({
                "variant": envelope.event.variant_name(),
                "scope": envelope.scope,
                "catalogue_scope": envelope.catalogue_scope().map(Scope::as_str),
                "store_hash": envelope.producer.as_str(),
                "store_id": envelope.store_id,
                "channel_id": envelope.channel_id().map(|c| c.0),
                "created_at": envelope.created_at,
                "hash": envelope.hash,
                "data": envelope.event.data_json(),
            });
            match serde_json::to_string_pretty(&out) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot print the event: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn read_stdin() -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    Ok(body)
}
