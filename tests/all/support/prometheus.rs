//! Test support only: a real Prometheus (Debian's `prometheus` package) on a loopback port,
//! scraping a metrics endpoint the test serves and changes, with a 1 s scrape and rule
//! evaluation interval, so that a bake test sees an alert fire a few seconds after it sets
//! a metric.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The metrics the test serves, in Prometheus' text format; changed with [`Metrics::set`].
#[derive(Clone)]
pub(crate) struct Metrics {
    text: Arc<Mutex<String>>,
    pub address: String,
}

impl Metrics {
    /// Serves `text` at `/metrics` until the process ends.
    pub(crate) fn serve(text: &str) -> Metrics {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let metrics = Metrics {
            text: Arc::new(Mutex::new(text.to_owned())),
            address,
        };
        let shared = metrics.text.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let body = shared.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        metrics
    }

    pub(crate) fn set(&self, text: &str) {
        *self.text.lock().unwrap() = text.to_owned();
    }
}

/// A running Prometheus; stopped when dropped.
pub(crate) struct Prometheus {
    child: Option<Child>,
    pub url: String,
    _dir: tempfile::TempDir,
}

/// Whether the `prometheus` binary is here; CI must have it.
pub(crate) fn available() -> bool {
    let found = Command::new("prometheus")
        .arg("--version")
        .output()
        .map_err(|e| e.to_string())
        .and_then(|o| {
            o.status
                .success()
                .then_some(())
                .ok_or_else(|| "prometheus --version failed".to_owned())
        });
    super::required_in_ci("Prometheus", "apt-get install prometheus", found)
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Prometheus {
    /// Starts Prometheus scraping `metrics` with the alerting `rules` (a rules file's YAML);
    /// `web_config` (YAML) is its `--web.config.file`, for authentication. Returns once the
    /// first scrape is in.
    pub(crate) fn start(metrics: &Metrics, rules: &str, web_config: Option<&str>) -> Prometheus {
        let mut last_error = String::new();
        // A port found free can be taken before Prometheus binds it: try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let rules_file = dir.path().join("rules.yml");
            std::fs::write(&rules_file, rules).unwrap();
            let config = dir.path().join("prometheus.yml");
            std::fs::write(
                &config,
                format!(
                    "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{}']\n",
                    rules_file.display(),
                    metrics.address
                ),
            )
            .unwrap();
            let port = free_port();
            let mut command = Command::new("prometheus");
            command
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if let Some(web) = web_config {
                let file = dir.path().join("web.yml");
                std::fs::write(&file, web).unwrap();
                command.arg(format!("--web.config.file={}", file.display()));
            }
            let child = command.spawn().expect("prometheus starts");
            let mut server = Prometheus {
                child: Some(child),
                url: format!("http://127.0.0.1:{port}"),
                _dir: dir,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(why) => last_error = why,
            }
        }
        panic!("Prometheus did not start: {last_error}");
    }

    /// Ready, and the first scrape of the test's endpoint is in.
    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let mut words = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut words);
                }
                return Err(format!("exited with {status}: {words}"));
            }
            if self.query_ok("up{job=\"app\"} == 1") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err("not ready within 30 s".into())
    }

    /// Whether `query` has at least one series now (unauthenticated, or as `ops`).
    pub(crate) fn query_ok(&self, query: &str) -> bool {
        let Some(body) = self.get(&format!("/api/v1/query?query={}", encode(query))) else {
            return false;
        };
        let Ok(answer) = serde_json::from_str::<serde_json::Value>(&body) else {
            return false;
        };
        answer["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    }

    /// Waits until `query` has a series (an alert fired, say); panics after 30 s.
    pub(crate) fn wait_for(&self, query: &str) {
        let started = Instant::now();
        while !self.query_ok(query) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "Prometheus never had a series for {query}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn get(&self, path_and_query: &str) -> Option<String> {
        let address = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            stream,
            "GET {path_and_query} HTTP/1.0\r\nHost: {address}\r\nAuthorization: Basic {}\r\n\r\n",
            TEST_BASIC_AUTH
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200")
            .then(|| body.to_owned())
            .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_owned()))
    }

    /// Stops the server (to test a bake whose server goes away).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The user and password of [`WEB_CONFIG_BASIC_AUTH`].
pub(crate) const TEST_USER: &str = "ops";
pub(crate) const TEST_PASSWORD: &str = "bake-test-password";
/// `ops:bake-test-password`, base64: the test's own queries authenticate with it, and a
/// server without authentication ignores it.
const TEST_BASIC_AUTH: &str = "b3BzOmJha2UtdGVzdC1wYXNzd29yZA==";

/// A `--web.config.file` that lets in `ops` with [`TEST_PASSWORD`] (a bcrypt hash of it,
/// made once with Python's `bcrypt`; cost 4 keeps the tests fast).
pub(crate) const WEB_CONFIG_BASIC_AUTH: &str =
    "basic_auth_users:\n  ops: $2b$04$XMI1TmXjF.yiiJ7uQJ/xaukMVl80eXtQflw/2rhBSXi5D8bbkhJaK\n";

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What [`FakePrometheus`] was asked: the request's path and its `Authorization` header.
pub(crate) struct Asked {
    pub path: String,
    pub authorization: String,
}

/// A stand-in for Prometheus' HTTP API on loopback, for what a real one will not do: quote
/// the credential it was sent, answer with tens of thousands of alerts, or take its time.
/// `answer` gets each request and returns the status and body to send; it runs on the
/// connection's own thread, so it may block (to hold an answer back).
pub(crate) struct FakePrometheus {
    pub url: String,
    received: Arc<Mutex<Vec<String>>>,
}

impl FakePrometheus {
    pub(crate) fn serve(
        answer: impl Fn(&Asked) -> (u16, String) + Send + Sync + 'static,
    ) -> FakePrometheus {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let seen = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (answer, seen) = (answer.clone(), seen.clone());
                std::thread::spawn(move || {
                    if let Some(asked) = read_request(&stream) {
                        seen.lock().unwrap().push(asked.path.clone());
                        let (status, body) = answer(&asked);
                        let mut stream = stream;
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(body.as_bytes());
                    }
                });
            }
        });
        FakePrometheus { url, received }
    }

    /// The paths asked for so far, in the order the requests arrived.
    pub(crate) fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

/// One HTTP/1.1 request: its head, then as much body as `Content-Length` says (read, so
/// that the connection closes cleanly after the answer, but not kept).
fn read_request(mut stream: &TcpStream) -> Option<Asked> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&chunk[..n]);
    }
    let path = head.lines().next()?.split(' ').nth(1)?.to_owned();
    Some(Asked {
        path,
        authorization: header("authorization"),
    })
}

/// Every byte but RFC 3986's unreserved ones as `%XX`, as a server quoting a URL writes it.
pub(crate) fn percent_encoded(text: &str) -> String {
    encode(text)
}
