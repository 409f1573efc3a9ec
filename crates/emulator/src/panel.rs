//! The emulator's control panel: one HTML page per store that frames the app the way BigCommerce's
//! control panel does, so the whole merchant flow runs in a browser. Install and open are browser
//! navigations inside the `<iframe>` (`{app_url}/auth?code=...`,
//! `{app_url}/load?signed_payload_jwt=...`), as the merchant's browser makes them on BigCommerce;
//! uninstall, remove user and events are server-side calls, posted by plain forms (no JavaScript)
//! and answered with a redirect back to the panel, which then shows what the app answered.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::core::Core;
use crate::oauth::CallbackOutcome;
use crate::{dispatcher, oauth, EmulatorError, TriggerReport};

/// How much of an app's answer the panel shows.
const EXCERPT_CHARS: usize = 300;

pub(crate) fn router() -> Router<Arc<Core>> {
    Router::new()
        .route("/_emulator/panel", get(index))
        .route("/_emulator/stores/{hash}/panel", get(panel))
        .route("/_emulator/stores/{hash}/panel/install", get(install))
        .route("/_emulator/stores/{hash}/panel/open", get(open))
        .route("/_emulator/stores/{hash}/panel/uninstall", post(uninstall))
        .route(
            "/_emulator/stores/{hash}/panel/remove_user",
            post(remove_user),
        )
        .route("/_emulator/stores/{hash}/panel/events", post(fire))
}

/// The path of a store's panel page.
pub(crate) fn panel_path(hash: &str) -> String {
    format!("/_emulator/stores/{hash}/panel")
}

/// The result of the last server-side action taken from a store's panel, shown on the panel after
/// the redirect. Kept in the store's state so a reload shows it again and no query string can
/// forge it.
#[derive(Debug, Clone)]
pub(crate) struct PanelOutcome {
    /// What was done, e.g. `GET /uninstall`.
    action: String,
    /// The app's HTTP status, when the app answered.
    status: Option<u16>,
    /// The start of the app's answer, or why the action failed.
    detail: String,
    ok: bool,
}

impl PanelOutcome {
    fn from_callback(action: String, result: Result<CallbackOutcome, EmulatorError>) -> Self {
        match result {
            Ok(outcome) => PanelOutcome {
                action,
                status: Some(outcome.status),
                ok: outcome.is_success(),
                detail: excerpt(&outcome.body),
            },
            Err(e) => PanelOutcome::failed(action, e.to_string()),
        }
    }

    fn from_trigger(action: String, result: Result<TriggerReport, EmulatorError>) -> Self {
        match result {
            Ok(report) => PanelOutcome {
                action,
                status: None,
                ok: true,
                detail: format!(
                    "fired {} (hash {}) to {} hook(s); see /_emulator/deliveries",
                    report.scope,
                    report.hash,
                    report.hook_ids.len()
                ),
            },
            Err(e) => PanelOutcome::failed(action, e.to_string()),
        }
    }

    fn failed(action: String, why: String) -> Self {
        PanelOutcome {
            action,
            status: None,
            ok: false,
            detail: why,
        }
    }
}

/// The first [`EXCERPT_CHARS`] characters of `text`, marked when cut.
fn excerpt(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut cut: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        cut.push('…');
    }
    cut
}

/// Escapes text for HTML element content and quoted attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the panel shows of a store, read in one lock.
struct StoreView {
    hash: String,
    store_id: u64,
    installed: bool,
    hooks: usize,
    channels: Vec<u64>,
    owner_id: u64,
    owner_email: String,
    staff_id: u64,
    staff_email: String,
    last: Option<PanelOutcome>,
}

fn store_view(core: &Core, hash: &str) -> Result<StoreView, EmulatorError> {
    core.with_store(hash, |s| {
        let staff_id = s.spec.staff_user_id();
        StoreView {
            hash: s.spec.hash.clone(),
            store_id: s.spec.store_id,
            installed: s.token.is_some(),
            hooks: s.hooks.len(),
            channels: s.channels.clone(),
            owner_id: s.spec.owner_id(),
            owner_email: s.spec.user_email(s.spec.owner_id()),
            staff_id,
            staff_email: s.spec.user_email(staff_id),
            last: s.panel_outcome.clone(),
        }
    })
}

/// What the panel's app area shows.
enum Frame {
    /// Nothing opened yet.
    Empty,
    /// The app, loaded in the iframe from `src`.
    App { src: String, caption: String },
    /// Why the app could not be opened.
    Refused(String),
}

const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 0; color: #1d2433; background: #f4f5f7; }
header { background: #34313f; color: #fff; padding: 10px 24px; }
header a { color: #cfd3ff; }
main { padding: 16px 24px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 16px; margin: 0 0 8px; }
section { background: #fff; border: 1px solid #d9dce3; border-radius: 6px; padding: 12px 16px; margin-bottom: 12px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dt { color: #5e637a; }
dd { margin: 0; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.actions form { display: inline-flex; gap: 4px; align-items: center; margin: 0; }
.button, button { display: inline-block; padding: 6px 12px; border: 1px solid #3c64f4; border-radius: 4px; background: #3c64f4; color: #fff; text-decoration: none; font-size: 14px; cursor: pointer; }
.button.secondary, button.secondary { background: #fff; color: #3c64f4; }
button.danger { background: #fff; color: #c0392b; border-color: #c0392b; }
input { padding: 5px 6px; border: 1px solid #b8bccb; border-radius: 4px; font-size: 14px; }
input[type=number] { width: 9em; }
input[name=channel_id] { width: 13em; }
.ok { color: #1e7e34; }
.bad { color: #c0392b; }
.notice { border-left: 4px solid #c0392b; }
.caption { font-size: 12px; color: #5e637a; word-break: break-all; margin: 0 0 6px; }
pre { white-space: pre-wrap; word-break: break-all; background: #f4f5f7; padding: 6px; margin: 4px 0 0; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 4px 12px 4px 0; }
#app-frame { width: 100%; height: 600px; border: 1px solid #d9dce3; background: #fff; }
";

/// A whole HTML document. Panel pages are never cached: install and open pages carry a one-time
/// code or a fresh JWT.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\
         <header><h1>{title}</h1><a href=\"/_emulator/panel\">All stores</a> · \
         <a href=\"/_emulator\">Emulator summary (JSON)</a></header><main>{body}</main></body></html>",
        title = esc(title),
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn not_found(hash: &str) -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Store not found",
        &format!(
            "<section class=\"notice\"><p>No store <code>{}</code> in the emulator.</p></section>",
            esc(hash)
        ),
    )
}

/// The store's panel page with `frame` in its app area.
fn store_page(core: &Core, status: StatusCode, view: &StoreView, frame: &Frame) -> Response {
    let mut body = String::new();
    body.push_str(&store_section(view));
    body.push_str(&actions_section(core, view));
    if let Some(last) = &view.last {
        body.push_str(&outcome_section(last));
    }
    body.push_str(&frame_section(frame));
    page(
        status,
        &format!("Store {} · emulated BigCommerce control panel", view.hash),
        &body,
    )
}

fn store_section(view: &StoreView) -> String {
    let state = if view.installed {
        "<span class=\"ok\" id=\"state\">installed</span>"
    } else {
        "<span class=\"bad\" id=\"state\">not installed</span>"
    };
    let channels: Vec<String> = view.channels.iter().map(u64::to_string).collect();
    format!(
        "<section><h2>Store</h2><dl>\
         <dt>Store hash</dt><dd id=\"store-hash\">{hash}</dd>\
         <dt>Store id</dt><dd>{store_id}</dd>\
         <dt>App</dt><dd>{state}</dd>\
         <dt>Hooks</dt><dd id=\"hooks-count\">{hooks}</dd>\
         <dt>Channels</dt><dd>{channels}</dd>\
         <dt>Owner</dt><dd>user {owner_id} ({owner_email})</dd>\
         <dt>Staff user</dt><dd>user {staff_id} ({staff_email})</dd>\
         </dl><p class=\"caption\"><a href=\"/_emulator/stores/{hash}/hooks\">Hooks (JSON)</a> · \
         <a href=\"/_emulator/deliveries\">Deliveries (JSON)</a></p></section>",
        hash = esc(&view.hash),
        store_id = view.store_id,
        hooks = view.hooks,
        channels = esc(&channels.join(", ")),
        owner_id = view.owner_id,
        owner_email = esc(&view.owner_email),
        staff_id = view.staff_id,
        staff_email = esc(&view.staff_email),
    )
}

fn actions_section(core: &Core, view: &StoreView) -> String {
    let base = esc(&panel_path(&view.hash));
    let install_label = if view.installed {
        "Re-install (re-authorize)"
    } else {
        "Install"
    };
    let mut scopes = String::new();
    for entry in core.catalogue.concrete() {
        let _ = write!(scopes, "<option value=\"{}\">", esc(&entry.scope));
    }
    format!(
        "<section><h2>Actions</h2>\
         <div class=\"actions\">\
         <a class=\"button\" id=\"install\" href=\"{base}/install\">{install_label}</a>\
         <a class=\"button\" id=\"open-owner\" href=\"{base}/open?user_id={owner}\">Open as owner</a>\
         <a class=\"button secondary\" id=\"open-staff\" href=\"{base}/open?user_id={staff}\">Open as staff user</a>\
         <form id=\"open-user\" method=\"get\" action=\"{base}/open\">\
         <input type=\"number\" name=\"user_id\" min=\"1\" required placeholder=\"user id\" aria-label=\"user id\">\
         <button class=\"secondary\" type=\"submit\" id=\"open-user-submit\">Open as user</button></form>\
         </div><div class=\"actions\" style=\"margin-top:8px\">\
         <form id=\"remove-user\" method=\"post\" action=\"{base}/remove_user\">\
         <input type=\"number\" name=\"user_id\" min=\"1\" required value=\"{staff}\" aria-label=\"user id to remove\">\
         <button class=\"danger\" type=\"submit\" id=\"remove-staff\">Remove user</button></form>\
         <form id=\"uninstall-form\" method=\"post\" action=\"{base}/uninstall\">\
         <button class=\"danger\" type=\"submit\" id=\"uninstall\">Uninstall</button></form>\
         </div><div class=\"actions\" style=\"margin-top:8px\">\
         <form id=\"fire-event\" method=\"post\" action=\"{base}/events\">\
         <input type=\"text\" name=\"scope\" size=\"40\" required value=\"store/order/created\" list=\"scopes\" aria-label=\"scope\">\
         <input type=\"number\" name=\"channel_id\" min=\"0\" placeholder=\"channel id (optional)\" aria-label=\"channel id\">\
         <button class=\"secondary\" type=\"submit\" id=\"fire\">Fire event</button></form>\
         <datalist id=\"scopes\">{scopes}</datalist>\
         </div></section>",
        owner = view.owner_id,
        staff = view.staff_id,
    )
}

fn outcome_section(last: &PanelOutcome) -> String {
    let (class, verdict) = if last.ok {
        ("ok", "succeeded")
    } else {
        ("bad", "failed")
    };
    let status = match last.status {
        Some(code) => format!(", the app answered <span id=\"last-status\">{code}</span>"),
        None => String::new(),
    };
    format!(
        "<section id=\"last-action\"><h2>Last action</h2>\
         <p><code id=\"last-name\">{action}</code> <span class=\"{class}\">{verdict}</span>{status}</p>\
         <pre id=\"last-detail\">{detail}</pre></section>",
        action = esc(&last.action),
        detail = esc(&last.detail),
    )
}

fn frame_section(frame: &Frame) -> String {
    match frame {
        Frame::Empty => "<section><h2>App</h2><p class=\"caption\">Install or open the app: \
             it loads here, in a frame, as in BigCommerce's control panel.</p></section>"
            .to_owned(),
        Frame::App { src, caption } => format!(
            "<section><h2>App</h2><p class=\"caption\">{caption}: <code>GET {src}</code></p>\
             <iframe id=\"app-frame\" name=\"app-frame\" title=\"The app\" src=\"{src}\"></iframe></section>",
            caption = esc(caption),
            src = esc(src),
        ),
        Frame::Refused(why) => format!(
            "<section class=\"notice\" id=\"refused\"><h2>App</h2><p>{}</p></section>",
            esc(why)
        ),
    }
}

/// `GET /_emulator/panel`: every store, with a link to its panel.
async fn index(State(core): State<Arc<Core>>) -> Response {
    let mut rows: Vec<(String, bool, usize)> = core
        .state()
        .stores
        .values()
        .map(|s| (s.spec.hash.clone(), s.token.is_some(), s.hooks.len()))
        .collect();
    rows.sort();
    let mut body = String::from(
        "<section><h2>Stores</h2><table><thead><tr><th>Store</th><th>App</th><th>Hooks</th>\
         </tr></thead><tbody>",
    );
    for (hash, installed, hooks) in &rows {
        let _ = write!(
            body,
            "<tr><td><a class=\"store\" href=\"{path}\">{hash}</a></td><td>{state}</td>\
             <td>{hooks}</td></tr>",
            path = esc(&panel_path(hash)),
            hash = esc(hash),
            state = if *installed {
                "installed"
            } else {
                "not installed"
            },
        );
    }
    body.push_str("</tbody></table></section>");
    page(StatusCode::OK, "Emulated BigCommerce control panel", &body)
}

/// `GET /_emulator/stores/{hash}/panel`.
async fn panel(State(core): State<Arc<Core>>, Path(hash): Path<String>) -> Response {
    match store_view(&core, &hash) {
        Ok(view) => store_page(&core, StatusCode::OK, &view, &Frame::Empty),
        Err(_) => not_found(&hash),
    }
}

/// `GET .../panel/install`: a fresh one-time code, and the app's `/auth` in the frame (the browser
/// makes that request, as on BigCommerce; the emulator does not call the app itself).
async fn install(State(core): State<Arc<Core>>, Path(hash): Path<String>) -> Response {
    let Ok(view) = store_view(&core, &hash) else {
        return not_found(&hash);
    };
    match oauth::install_url(&core, &hash) {
        Ok(url) => {
            let frame = Frame::App {
                src: url.to_string(),
                caption: "Installing (reload the panel afterwards to see the new state)".into(),
            };
            store_page(&core, StatusCode::OK, &view, &frame)
        }
        Err(e) => refused(&core, &view, &e),
    }
}

/// `GET .../panel/open?user_id=N` (default: the owner): the app's `/load` in the frame, with a
/// `signed_payload_jwt` for that user.
async fn open(
    State(core): State<Arc<Core>>,
    Path(hash): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Ok(view) = store_view(&core, &hash) else {
        return not_found(&hash);
    };
    let user_id = match query.get("user_id").map(|t| t.trim()) {
        None | Some("") => view.owner_id,
        Some(text) => match parse_user_id(text) {
            Ok(id) => id,
            Err(why) => {
                return store_page(&core, StatusCode::BAD_REQUEST, &view, &Frame::Refused(why))
            }
        },
    };
    match oauth::load_url(&core, &hash, user_id) {
        Ok(url) => {
            let frame = Frame::App {
                src: url.to_string(),
                caption: format!("Opened as user {user_id}"),
            };
            store_page(&core, StatusCode::OK, &view, &frame)
        }
        Err(e) => refused(&core, &view, &e),
    }
}

/// The panel with the reason an app page could not be framed, and a fitting status.
fn refused(core: &Core, view: &StoreView, error: &EmulatorError) -> Response {
    let (status, why) = match error {
        EmulatorError::NotInstalled(_) => (
            StatusCode::CONFLICT,
            format!(
                "The app is not installed in store {}: install it first.",
                view.hash
            ),
        ),
        other => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    };
    store_page(core, status, view, &Frame::Refused(why))
}

/// A user id typed into a form; the message says what was wrong.
fn parse_user_id(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("user_id `{text}` is not a number"))
}

/// The fields of a form post (`application/x-www-form-urlencoded`).
fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Records the outcome on the store and sends the browser back to its panel (POST-redirect-GET,
/// so a reload does not repeat the action).
fn done(core: &Core, hash: &str, outcome: PanelOutcome) -> Response {
    match core.with_store(hash, |s| s.panel_outcome = Some(outcome)) {
        Ok(()) => Redirect::to(&panel_path(hash)).into_response(),
        Err(_) => not_found(hash),
    }
}

fn known(core: &Core, hash: &str) -> bool {
    core.with_store(hash, |_| ()).is_ok()
}

/// `POST .../panel/uninstall`.
async fn uninstall(State(core): State<Arc<Core>>, Path(hash): Path<String>) -> Response {
    if !known(&core, &hash) {
        return not_found(&hash);
    }
    let result = oauth::uninstall(&core, &hash).await;
    done(
        &core,
        &hash,
        PanelOutcome::from_callback("GET /uninstall".into(), result),
    )
}

/// `POST .../panel/remove_user` with the form field `user_id`.
async fn remove_user(
    State(core): State<Arc<Core>>,
    Path(hash): Path<String>,
    body: Bytes,
) -> Response {
    if !known(&core, &hash) {
        return not_found(&hash);
    }
    let fields = form(&body);
    let text = fields.get("user_id").map(String::as_str).unwrap_or("");
    let outcome = match parse_user_id(text) {
        Ok(user_id) => PanelOutcome::from_callback(
            format!("GET /remove_user (user {user_id})"),
            oauth::remove_user(&core, &hash, user_id).await,
        ),
        Err(why) => PanelOutcome::failed("GET /remove_user".into(), why),
    };
    done(&core, &hash, outcome)
}

/// `POST .../panel/events` with the form fields `scope` and `channel_id` (optional).
async fn fire(State(core): State<Arc<Core>>, Path(hash): Path<String>, body: Bytes) -> Response {
    if !known(&core, &hash) {
        return not_found(&hash);
    }
    let fields = form(&body);
    let scope = fields.get("scope").map(|s| s.trim()).unwrap_or("");
    let action = format!("fire {scope}");
    let channel = match fields.get("channel_id").map(|c| c.trim()) {
        None | Some("") => None,
        Some(text) => match text.parse::<u64>() {
            Ok(id) => Some(id),
            Err(_) => {
                let why = format!("channel_id `{text}` is not a number");
                return done(&core, &hash, PanelOutcome::failed(action, why));
            }
        },
    };
    let result = dispatcher::trigger(&core, &hash, scope, channel, None, 1).await;
    done(&core, &hash, PanelOutcome::from_trigger(action, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn excerpts_are_cut_on_characters() {
        assert_eq!(excerpt("  short  "), "short");
        let long = "é".repeat(EXCERPT_CHARS + 5);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
