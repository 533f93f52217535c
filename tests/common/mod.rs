//! Helpers shared by the integration tests: the moto endpoint, seeding accounts, running the binary.
#![allow(dead_code, clippy::disallowed_macros)]

use serde_json::Value;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The moto server started by scripts/test.sh.
pub fn endpoint() -> String {
    std::env::var("AUDITPACK_TEST_ENDPOINT").expect(
        "AUDITPACK_TEST_ENDPOINT is not set: run the suite with scripts/test.sh, which starts moto",
    )
}

/// A fresh 12-digit account id and name prefix for this test, so tests sharing one moto never meet.
pub fn unique_account() -> (String, String) {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let seed =
        (std::process::id() as u64 * 7919 + n as u64 * 104729 + nanos as u64) % 900_000_000_000;
    let account = format!("{:012}", 100_000_000_000 + seed);
    let prefix = format!("t{}", &account[4..]);
    (account, prefix)
}

/// A seeded account: what seed.py created, with the credentials to reach it.
pub struct Seeded {
    pub account: String,
    pub prefix: String,
    pub facts: Value,
}

impl Seeded {
    pub fn credentials(&self) -> Vec<(String, String)> {
        self.facts["credentials"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect()
    }
}

/// Runs tests/fixtures/seed.py for `scenario` in a new account.
pub fn seed(scenario: &str, extra: &[&str]) -> Seeded {
    let (account, prefix) = unique_account();
    seed_in(&account, &prefix, scenario, extra)
}

/// Runs tests/fixtures/seed.py for `scenario` in the given account.
pub fn seed_in(account: &str, prefix: &str, scenario: &str, extra: &[&str]) -> Seeded {
    let (account, prefix) = (account.to_string(), prefix.to_string());
    let output = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed.py"))
        .args([
            "--endpoint",
            &endpoint(),
            "--account",
            &account,
            "--prefix",
            &prefix,
        ])
        .args(extra)
        .arg(scenario)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "seed.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let facts: Value = serde_json::from_slice(&output.stdout).expect("seed.py prints JSON");
    Seeded {
        account,
        prefix,
        facts,
    }
}

/// The auditpack binary with a clean AWS environment: no profile, region us-east-1, no endpoint.
pub fn auditpack() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auditpack"));
    for var in [
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    // Keep the SDK away from any real config or instance metadata on the test machine.
    cmd.env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/auditpack-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/auditpack-test-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// `auditpack` authenticated as the seeded account and pointed at moto.
pub fn auditpack_as(seeded: &Seeded) -> Command {
    let mut cmd = auditpack();
    cmd.envs(seeded.credentials())
        .env("AWS_ENDPOINT_URL", endpoint());
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    let output = cmd.output().expect("auditpack runs");
    eprintln!(
        "--- auditpack exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `auditpack ARGS` and checks it is refused as a usage error: exit 2, a message containing
/// `needle` (the flag, the value or what is allowed), and nothing written at `untouched`.
pub fn assert_usage_error(args: &[&str], needle: &str, untouched: &Path) {
    let output = run(auditpack().args(args));
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    assert!(
        stderr(&output).contains(needle),
        "{args:?}: {}",
        stderr(&output)
    );
    assert!(
        !untouched.exists(),
        "{args:?} wrote {}",
        untouched.display()
    );
}

/// A temporary directory that lives as long as the test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Collects the seeded account into `<dir>/pack` with the given regions; returns the pack path and output.
pub fn collect(seeded: &Seeded, dir: &Path, regions: &str) -> (PathBuf, Output) {
    let pack = dir.join("pack");
    let output = run(auditpack_as(seeded).args([
        "collect",
        "--out",
        pack.to_str().unwrap(),
        "--regions",
        regions,
    ]));
    (pack, output)
}

/// Reads `index.jsonl` as JSON values.
pub fn index_entries(pack: &Path) -> Vec<Value> {
    std::fs::read_to_string(pack.join("index.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn header(pack: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(pack.join("pack.json")).unwrap()).unwrap()
}

/// Copies a directory tree (a pack) so a test can change its copy.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// tests/fixtures/fault_proxy.py in front of moto (see its docstring for the faults it injects); killed when dropped.
pub struct FaultProxy {
    child: std::process::Child,
    pub endpoint: String,
}

impl FaultProxy {
    /// Starts the proxy with `args` (after `--upstream`); `--fail-every 0` unless `args` say otherwise.
    pub fn start(args: &[&str]) -> Self {
        let mut child = std::process::Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fault_proxy.py"))
            .args(["--upstream", &endpoint(), "--fail-every", "0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(!line.trim().is_empty(), "fault_proxy.py did not start");
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{}", line.trim()),
        }
    }

    /// The proxy's own counts: requests seen, forwarded, faults by kind.
    pub fn stats(&self) -> Value {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(
            stream,
            "GET /__proxy/stats HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (_, body) = response.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(body).unwrap()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A local server from `tests/fixtures/` (a Python script), killed when dropped: it prints
/// `PORT <n>` first, then any further `KEY value` lines the caller asks for.
pub struct LocalServer {
    child: std::process::Child,
    pub endpoint: String,
    /// The `KEY value` lines after `PORT`, in order.
    pub facts: Vec<(String, String)>,
}

impl LocalServer {
    pub fn start(script: &str, args: &[&str], extra_lines: usize) -> Self {
        let mut child = std::process::Command::new("python3")
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures")
                    .join(script),
            )
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        for _ in 0..=extra_lines {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let (key, value) = line
                .trim()
                .split_once(' ')
                .unwrap_or_else(|| panic!("{script} did not start (printed {line:?})"));
            lines.push((key.to_string(), value.to_string()));
        }
        assert_eq!(lines[0].0, "PORT", "{script} prints its port first");
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{}", lines[0].1),
            facts: lines.split_off(1),
        }
    }

    /// The value of a `KEY value` line the server printed.
    pub fn fact(&self, key: &str) -> &str {
        &self.facts.iter().find(|(k, _)| k == key).unwrap().1
    }

    /// `tests/fixtures/replay/replay_server.py` with one of its scenarios (file name in that folder).
    pub fn replay(scenario: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/replay")
            .join(scenario);
        Self::start(
            "replay/replay_server.py",
            &["--scenario", path.to_str().unwrap(), "--port", "0"],
            0,
        )
    }

    /// `tests/fixtures/tsa_server.py`: a timestamp authority whose CA certificate is `fact("CA")`.
    pub fn tsa(key_type: &str) -> Self {
        Self::start("tsa_server.py", &["--key-type", key_type], 1)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `auditpack` with the replay server's static credentials of one of its accounts.
pub fn auditpack_at(server: &LocalServer, access_key: &str) -> Command {
    let mut cmd = auditpack();
    cmd.env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", "replay-secret")
        .env("AWS_ENDPOINT_URL", &server.endpoint);
    cmd
}

/// Every file of a tree (relative path -> bytes), to compare a pack before and after.
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}
