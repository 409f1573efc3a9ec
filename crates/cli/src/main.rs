//! `bcapp`: the command line of bigcommerce-app.

mod emulator;
mod envfile;
mod failure;
mod ops;
mod send;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use bigcommerce_app::{Envelope, Scope};
use clap::{Parser, Subcommand};
use serde_json::json;

/// Work with BigCommerce webhooks and bigcommerce-app apps.
#[derive(Parser)]
#[command(
    name = "bcapp",
    version,
    about,
    long_about = None,
    after_help = "Settings come from the environment and from ./.env when there is one (variables \
                  already set win). Commands that open a database name it on standard error. \
                  Errors: `error: ...` (and `hint: ...`) on standard error, exit status 1 (2 for \
                  usage errors and for input that `parse` or `scopes` rejects). See docs/cli.md."
)]
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
    /// POST a callback body to an app, as BigCommerce would.
    Send {
        /// File holding the body (`-` for standard input).
        file: PathBuf,
        /// The app's webhook URL, e.g. http://127.0.0.1:3000/webhooks.
        #[arg(long)]
        to: String,
        /// The store's webhook secret (sent in the secret header).
        #[arg(long)]
        secret: Option<String>,
        /// Sign with Standard Webhooks headers using this client secret.
        #[arg(long, env = "BC_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// Header carrying the secret.
        #[arg(long, default_value = "x-bcapp-webhook-secret")]
        secret_header: String,
    },
    /// Run a local BigCommerce for development: OAuth install, hooks API, event delivery.
    Emulator {
        /// Port to listen on, on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 4000)]
        port: u16,
        /// Where the app runs (the emulator calls {app-url}/auth, /load, /uninstall).
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        app_url: String,
        /// Client id of the app registered with the emulator.
        #[arg(long, env = "BC_CLIENT_ID", default_value = "local-client-id")]
        client_id: String,
        /// Its client secret: checked at the token exchange, signs the JWTs and the callbacks.
        #[arg(
            long,
            env = "BC_CLIENT_SECRET",
            default_value = "local-client-secret",
            hide_env_values = true
        )]
        client_secret: String,
        /// Store hashes (repeat for several stores).
        #[arg(long = "store", default_values_t = ["store1".to_string(), "store2".to_string()])]
        stores: Vec<String>,
        /// Channel ids of every store.
        #[arg(long = "channel", default_values_t = [1u64, 2])]
        channels: Vec<u64>,
        /// Speed-up of BigCommerce's retry schedule (60 s ... 86,400 s); 600 makes it seconds.
        #[arg(long, default_value_t = 600.0)]
        time_scale: f64,
    },
    /// Make the emulator fire an event as a store action would.
    Trigger {
        /// The scope, e.g. store/order/created or store/channel/{channel_id}/cart/created.
        scope: String,
        /// The store the event happens in.
        #[arg(long)]
        store: String,
        /// The channel of a channel scope.
        #[arg(long)]
        channel: Option<u64>,
        /// The payload `data` (JSON); generated from the catalogue when absent.
        #[arg(long)]
        data: Option<String>,
        /// Deliver it twice, as BigCommerce sometimes does.
        #[arg(long)]
        duplicate: bool,
        /// Base URL of the running emulator.
        #[arg(
            long,
            env = "BCAPP_EMULATOR_URL",
            default_value = "http://127.0.0.1:4000"
        )]
        emulator: String,
    },
    /// Create or update the framework's tables (DATABASE_URL); creates a new SQLite file if needed.
    ///
    /// The only command that creates anything; the others open the app's existing database.
    Migrate,
    /// List the installed stores.
    Tenants {
        /// Print a JSON array (`[]` when there is none).
        #[arg(long)]
        json: bool,
    },
    /// Dead letters: events whose handlers failed for good.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Webhook subscriptions on BigCommerce (or the local emulator: BC_API_URL).
    Hooks {
        #[command(subcommand)]
        command: HooksCommand,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List dead letters with their last error.
    List {
        /// Only this store's.
        #[arg(long)]
        store: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Print a JSON array (`[]` when there is none).
        #[arg(long)]
        json: bool,
    },
    /// Queue dead letters again (after fixing the handler).
    Replay {
        /// Dead letter ids (see `bcapp dlq list`).
        #[arg(long = "id")]
        ids: Vec<i64>,
        /// Every dead letter (of --store, if given).
        #[arg(long)]
        all: bool,
        /// With --all: only this store's.
        #[arg(long)]
        store: Option<String>,
    },
}

#[derive(Subcommand)]
enum HooksCommand {
    /// Show each store's hooks, their state and the last reconcile outcome.
    ///
    /// Needs no client id or secret: the stores' tokens come from the database. With APP_URL,
    /// only the hooks delivering to APP_URL + the webhook path; without, every hook.
    Status {
        /// Only this store.
        #[arg(long, conflicts_with = "all")]
        store: Option<String>,
        /// Every installed store (the default).
        #[arg(long)]
        all: bool,
        /// Print a JSON array (`[]` when there is no store).
        #[arg(long)]
        json: bool,
    },
    /// Re-create, re-activate and repair the hooks the app recorded (deletes nothing).
    ///
    /// Needs APP_URL (the hooks deliver to APP_URL + the webhook path), not the client secret.
    Sync {
        /// Only this store.
        #[arg(long, conflicts_with = "all")]
        store: Option<String>,
        /// Every installed store (the default).
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    // Before parsing: options that default to a variable read ./.env too.
    let env_file = envfile::load();
    let cli = Cli::parse();
    match env_file {
        Ok(Some(note)) => eprintln!("{note}"),
        Ok(None) => {}
        Err(failure) => return failure.report(),
    }
    match cli.command {
        Command::Scopes { group, json } => scopes(group.as_deref(), json),
        Command::Parse { file } => parse(file),
        other => run_async(other),
    }
}

/// Commands that talk to a database or over HTTP.
fn run_async(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return failure::Failure::new(format!("cannot start the async runtime: {e}")).report()
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Send {
                file,
                to,
                secret,
                client_secret,
                secret_header,
            } => {
                send::send(
                    &file,
                    &to,
                    secret.as_deref(),
                    client_secret.as_deref(),
                    &secret_header,
                )
                .await
            }
            Command::Migrate => ops::migrate().await,
            Command::Emulator {
                port,
                app_url,
                client_id,
                client_secret,
                stores,
                channels,
                time_scale,
            } => {
                emulator::run(emulator::EmulatorArgs {
                    port,
                    app_url,
                    client_id,
                    client_secret,
                    stores,
                    channels,
                    time_scale,
                })
                .await
            }
            Command::Trigger {
                scope,
                store,
                channel,
                data,
                duplicate,
                emulator,
            } => {
                emulator::trigger(
                    &emulator,
                    &scope,
                    &store,
                    channel,
                    data.as_deref(),
                    duplicate,
                )
                .await
            }
            Command::Tenants { json } => ops::tenants(json).await,
            Command::Dlq {
                command: DlqCommand::List { store, limit, json },
            } => ops::dlq_list(store.as_deref(), limit, json).await,
            Command::Dlq {
                command: DlqCommand::Replay { ids, all, store },
            } => ops::dlq_replay(&ids, all, store.as_deref()).await,
            Command::Hooks {
                command: HooksCommand::Status { store, json, .. },
            } => ops::hooks_status(store.as_deref(), json).await,
            Command::Hooks {
                command: HooksCommand::Sync { store, .. },
            } => ops::hooks_sync(store.as_deref()).await,
            Command::Scopes { .. } | Command::Parse { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
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
                "scope": envelope.meta.scope,
                "catalogue_scope": envelope.catalogue_scope().map(Scope::as_str),
                "store_hash": envelope.meta.store_hash.as_str(),
                "store_id": envelope.meta.store_id,
                "channel_id": envelope.channel_id().map(|c| c.0),
                "created_at": envelope.meta.created_at,
                "hash": envelope.meta.hash,
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
