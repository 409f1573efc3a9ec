//! A headless Chromium for the end-to-end tests of the merchant UI: `chromedriver` as a child
//! process on a free port, driven through WebDriver with fantoccini.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install -y chromium chromium-driver`);
//! `CHROME_BIN` and `CHROMEDRIVER` point elsewhere. Without them [`Browser::start`] fails: the
//! tests never skip.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// Any error of the harness, with what it was doing (and, for pages, what the page showed).
/// Its `Debug` is the message as is, so a test's `expect` shows the page's lines, not an
/// escaped string.
pub struct Error(String);

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Error {
        Error(error.to_string())
    }
}

/// How long a page, an element or chromedriver may take to appear.
pub const TIMEOUT: Duration = Duration::from_secs(15);

const POLL: Duration = Duration::from_millis(100);
const INSTALL_HINT: &str =
    "install them with `apt-get update && apt-get install -y chromium chromium-driver` \
     (or set CHROME_BIN and CHROMEDRIVER)";

/// Headless Chromium, driven through its own chromedriver.
pub struct Browser {
    client: Client,
    session: Option<String>,
    // Dropped after the session is ended (see `Drop`), so the profile is no longer in use.
    driver: Driver,
    _profile: tempfile::TempDir,
}

/// Which cookies the browser keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cookies {
    /// Chromium's defaults.
    Default,
    /// None at all, first- or third-party (the content setting "Don't allow sites to save
    /// data"): what an app sees from the strictest browsers.
    Blocked,
}

impl Cookies {
    /// The profile preferences that set it up.
    fn prefs(self) -> Value {
        match self {
            Cookies::Default => json!({}),
            Cookies::Blocked => json!({ "profile.default_content_setting_values.cookies": 2 }),
        }
    }
}

/// The chromedriver process; killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts chromedriver (its log into `log`) and a headless Chromium with a fresh profile.
    pub async fn start(log: &Path, cookies: Cookies) -> Result<Browser, Error> {
        let chromium = program("CHROME_BIN", "/usr/bin/chromium")?;
        let chromedriver = program("CHROMEDRIVER", "/usr/bin/chromedriver")?;
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let port = free_port()?;
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error(format!("cannot start {}: {e}", chromedriver.display())))?;
        let mut driver = Driver { child, port };
        wait_ready(&mut driver, log).await?;

        let profile = tempfile::tempdir()?;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "prefs": cookies.prefs(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    // Room for the panel and the framed app in screenshots.
                    "--window-size=1280,1100",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        // Plain HTTP: chromedriver listens on loopback.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| {
                Error(format!(
                    "chromedriver did not start a Chromium session: {e} (see {})",
                    log.display()
                ))
            })?;
        let session = client.session_id().await?;
        Ok(Browser {
            client,
            session,
            driver,
            _profile: profile,
        })
    }

    /// The WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` in the window (top level).
    pub async fn goto(&self, url: &str) -> Result<(), Error> {
        self.client
            .goto(url)
            .await
            .map_err(|e| Error(format!("open {url}: {e}")))
    }

    /// Waits until the current document (the window's or the frame's) has an element matching
    /// `css`; on timeout the error shows the document.
    pub async fn wait_for(&self, css: &str) -> Result<Element, Error> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => return Ok(element),
                Err(e) if e.is_no_such_element() || e.is_stale_element_reference() => {}
                Err(e) => return Err(self.explain(&format!("find {css}: {e}")).await),
            }
            if Instant::now() > deadline {
                return Err(self
                    .explain(&format!("no {css} after {} s", TIMEOUT.as_secs()))
                    .await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks `css` and waits until the window (or frame) has left the current document, so
    /// what is found next is on the new page, even when its URL is the same.
    pub async fn click_and_navigate(&self, css: &str) -> Result<(), Error> {
        let old = self.client.find(Locator::Css("html")).await?;
        self.wait_for(css).await?.click().await?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match old.tag_name().await {
                Err(e) if e.is_stale_element_reference() || left_document(&e) => return Ok(()),
                Err(e) => return Err(self.explain(&format!("after clicking {css}: {e}")).await),
                Ok(_) if Instant::now() > deadline => {
                    return Err(self
                        .explain(&format!("clicking {css} did not leave the page"))
                        .await)
                }
                Ok(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// The text of the element matching `css` (waited for).
    pub async fn text(&self, css: &str) -> Result<String, Error> {
        Ok(self.wait_for(css).await?.text().await?)
    }

    /// Replaces the value of the input matching `css` by `value`, as typed.
    pub async fn fill(&self, css: &str, value: &str) -> Result<(), Error> {
        let input = self.wait_for(css).await?;
        input.clear().await?;
        input.send_keys(value).await?;
        Ok(())
    }

    /// Ticks or unticks the checkbox matching `css`.
    pub async fn set_checked(&self, css: &str, checked: bool) -> Result<(), Error> {
        let checkbox = self.wait_for(css).await?;
        if checkbox.is_selected().await? != checked {
            checkbox.click().await?;
        }
        Ok(())
    }

    /// Switches into the frame matching `css` (of the current document); WebDriver commands
    /// then act on the framed document, whatever it navigates to.
    pub async fn enter_frame(&self, css: &str) -> Result<(), Error> {
        self.wait_for(css).await?.enter_frame().await?;
        Ok(())
    }

    /// Switches back to the document that holds the current frame.
    pub async fn leave_frame(&self) -> Result<(), Error> {
        Ok(self.client.enter_parent_frame().await?)
    }

    /// A PNG of the window, frames included.
    pub async fn screenshot(&self, to: &Path) -> Result<(), Error> {
        let png = self.client.screenshot().await?;
        std::fs::write(to, png).map_err(|e| Error(format!("write {}: {e}", to.display())))?;
        Ok(())
    }

    /// Runs `script` (an async WebDriver script: it calls `arguments[arguments.length - 1]`
    /// with its result) in the current document.
    pub async fn run_async(&self, script: &str) -> Result<Value, Error> {
        Ok(self.client.execute_async(script, Vec::new()).await?)
    }

    /// Ends the session: Chromium quits (chromedriver is killed on drop).
    pub async fn close(mut self) -> Result<(), Error> {
        self.session = None;
        self.client.clone().close().await?;
        Ok(())
    }

    /// `what` went wrong, with the URL and the source of the current document.
    async fn explain(&self, what: &str) -> Error {
        let url = match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("(unknown: {e})"),
        };
        // In a frame, the frame's document (WebDriver's current URL is the window's).
        let source = self
            .client
            .source()
            .await
            .unwrap_or_else(|e| format!("(unavailable: {e})"));
        Error(format!("{what}\nwindow URL: {url}\ndocument:\n{source}"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that failed never reached `close`: end the session synchronously, or the
        // Chromium that chromedriver started outlives it.
        if let Some(session) = self.session.take() {
            let _ = delete_session(self.driver.port, &session);
        }
    }
}

/// The path of a required program: `$env`, else `default`; an error says how to install it.
fn program(env: &str, default: &str) -> Result<PathBuf, Error> {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error(format!(
            "{} not found: the browser tests need Chromium and chromedriver; {INSTALL_HINT}",
            path.display()
        )))
    }
}

fn free_port() -> Result<u16, Error> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until chromedriver answers `GET /status` with `ready: true`.
async fn wait_ready(driver: &mut Driver, log: &Path) -> Result<(), Error> {
    let url = format!("http://127.0.0.1:{}/status", driver.port);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = driver.child.try_wait()? {
            return Err(Error(format!(
                "chromedriver exited ({status}) before it was ready; see {}",
                log.display()
            )));
        }
        if let Ok(response) = reqwest::get(&url).await {
            if let Ok(body) = response.json::<Value>().await {
                if body["value"]["ready"] == json!(true) {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err(Error(format!(
                "chromedriver not ready at {url} after {} s; see {}",
                TIMEOUT.as_secs(),
                log.display()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `DELETE /session/{id}`, blocking (for `Drop`).
fn delete_session(port: u16, session: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // The answer comes once Chromium has quit.
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(())
}

/// Chromium answers an "unknown error" instead of a stale-element reference when the old page's
/// node is asked about while the navigation is replacing the document: it left the page as well.
fn left_document(error: &fantoccini::error::CmdError) -> bool {
    let text = error.to_string();
    text.contains("does not belong to the document") || text.contains("No node with given id")
}
