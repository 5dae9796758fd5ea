//! The `wasi_experimental_http` conformance kit.
//!
//! Each [`Case`] is a guest program (a list of ABI calls, compiled to a WAT module by
//! [`module`]), the replies a loopback [`server`] sends, the allow-list entries, and what must
//! come out: the exact stdout lines, the exit status, and what the server received. The runner
//! ([`run_case`]) works with any host CLI that follows the `wasmtime-http` convention:
//!
//! ```text
//! CLI [CLI-ARGS...] -a ORIGIN [-a ORIGIN...] MODULE.wasm
//! ```
//!
//! runs `MODULE.wasm`'s `_start` with WASI preview 1 (stdout inherited) and
//! `wasi_experimental_http`, with the default limits and timeouts of abi.md, and exits with
//! the guest's `proc_exit` status (0 when `_start` returns). See abi.md, "Conformance kit".
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test tooling: a panic is a failed case with a message"
)]

pub mod cases;
pub mod module;
pub mod server;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use module::{Arg, Step};
use server::{Reply, Server};

/// How long one CLI run may take before the runner kills it and fails the case. The slowest
/// case waits a little over the default overall deadline (30 s).
pub const CASE_TIMEOUT: Duration = Duration::from_secs(60);

/// The exit status a case expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exactly this status.
    Code(i32),
    /// Any status but 0.
    Failure,
}

/// One conformance case.
#[derive(Clone, Debug)]
pub struct Case {
    /// A unique name, `area/what`.
    pub name: &'static str,
    /// The abi.md rule it checks.
    pub spec: &'static str,
    /// The server's replies, in order of the requests it receives; the last repeats.
    pub replies: Vec<Reply>,
    /// Allow-list entries, placeholders allowed; default `{origin}`.
    pub allow: Vec<String>,
    /// The guest program.
    pub steps: Vec<Step>,
    /// Memory pages of the module.
    pub pages: u32,
    /// A whole hand-written module instead of `steps` (placeholders allowed).
    pub wat: Option<String>,
    /// The expected stdout lines.
    pub stdout: Vec<String>,
    /// The expected exit status.
    pub exit: Exit,
    /// How many requests the server must have received, if checked.
    pub requests: Option<usize>,
    /// Exact heads (request line through the empty line) of received requests, by index.
    pub heads: Vec<(usize, String)>,
    /// Exact bodies of received requests, by index.
    pub bodies: Vec<(usize, Vec<u8>)>,
    /// Texts stderr must contain (placeholders allowed).
    pub stderr: Vec<String>,
}

impl Case {
    /// A case with no steps, one `200 OK` reply with an empty body, allow-list `{origin}`.
    pub fn new(name: &'static str, spec: &'static str) -> Case {
        Case {
            name,
            spec,
            replies: vec![server::Reply {
                bytes: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
                after: server::After::KeepOpen,
                unprompted: false,
            }],
            allow: vec!["{origin}".to_string()],
            steps: Vec::new(),
            pages: 1,
            wat: None,
            stdout: Vec::new(),
            exit: Exit::Code(0),
            requests: None,
            heads: Vec::new(),
            bodies: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// Sets the replies.
    pub fn replies(mut self, replies: Vec<Reply>) -> Case {
        self.replies = replies;
        self
    }

    /// Sets the allow-list.
    pub fn allow(mut self, entries: &[&str]) -> Case {
        self.allow = entries.iter().map(|e| e.to_string()).collect();
        self
    }

    /// Appends steps.
    pub fn steps(mut self, steps: impl IntoIterator<Item = Step>) -> Case {
        self.steps.extend(steps);
        self
    }

    /// Appends expected stdout lines.
    pub fn expect<S: Into<String>>(mut self, lines: impl IntoIterator<Item = S>) -> Case {
        self.stdout.extend(lines.into_iter().map(Into::into));
        self
    }

    /// Expects exactly `n` requests at the server.
    pub fn requests(mut self, n: usize) -> Case {
        self.requests = Some(n);
        self
    }

    /// Expects request `i` to have exactly this head.
    pub fn head(mut self, i: usize, head: &str) -> Case {
        self.heads.push((i, head.to_string()));
        self
    }

    /// Expects request `i` to have exactly this body.
    pub fn body(mut self, i: usize, body: &[u8]) -> Case {
        self.bodies.push((i, body.to_vec()));
        self
    }
}

/// The placeholders of a case, for one server port.
pub struct Vars {
    /// The server's port.
    pub port: u16,
    /// A loopback port nothing listens on (bound once, then released).
    pub closed_port: u16,
}

impl Vars {
    /// `text` with `{port}`, `{authority}`, `{origin}` and `{closed_port}` replaced.
    pub fn fill(&self, text: &str) -> String {
        let authority = format!("127.0.0.1:{}", self.port);
        text.replace("{origin}", &format!("http://{authority}"))
            .replace("{authority}", &authority)
            .replace("{closed_port}", &self.closed_port.to_string())
            .replace("{port}", &self.port.to_string())
    }

    fn fill_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        // Placeholders are ASCII; substitute on a lossless Latin-1 view of the bytes.
        let text: String = bytes.iter().map(|&b| b as char).collect();
        self.fill(&text).chars().map(|c| c as u8).collect()
    }

    fn fill_arg(&self, arg: &Arg) -> Arg {
        match arg {
            Arg::Bytes(b) => Arg::Bytes(self.fill_bytes(b)),
            Arg::At(p, b) => Arg::At(*p, self.fill_bytes(b)),
            other => other.clone(),
        }
    }

    fn fill_step(&self, step: &Step) -> Step {
        match step {
            Step::Req {
                url,
                method,
                headers,
                body,
                status,
                handle,
            } => Step::Req {
                url: self.fill_arg(url),
                method: self.fill_arg(method),
                headers: self.fill_arg(headers),
                body: self.fill_arg(body),
                status: *status,
                handle: *handle,
            },
            Step::HeaderGet {
                h,
                name,
                buf,
                len,
                written,
                show,
            } => Step::HeaderGet {
                h: *h,
                name: self.fill_arg(name),
                buf: *buf,
                len: *len,
                written: *written,
                show: *show,
            },
            other => other.clone(),
        }
    }
}

/// The result of one case.
#[derive(Debug)]
pub struct Outcome {
    /// The case's name.
    pub name: &'static str,
    /// Whether every expectation held.
    pub passed: bool,
    /// What differed (empty when passed).
    pub detail: String,
}

/// Writes the case's module (`DIR/<name with / as ->.wasm`) for `vars` and returns its path.
pub fn write_module(case: &Case, vars: &Vars, dir: &Path) -> Result<PathBuf, String> {
    let wat = match &case.wat {
        Some(w) => vars.fill(w),
        None => {
            let steps: Vec<Step> = case.steps.iter().map(|s| vars.fill_step(s)).collect();
            module::generate(&steps, case.pages)?.wat
        }
    };
    let wasm = wat::parse_str(&wat).map_err(|e| format!("WAT does not assemble: {e}\n{wat}"))?;
    let path = dir.join(format!("{}.wasm", case.name.replace('/', "-")));
    std::fs::write(&path, wasm).map_err(|e| format!("write {}: {e}", path.display()))?;
    std::fs::write(path.with_extension("wat"), wat).ok();
    Ok(path)
}

/// Runs `case` with the host CLI `cli` (program, then its own arguments), writing the module
/// to `dir`; `seed` varies the server's port.
pub fn run_case(cli: &[String], case: &Case, dir: &Path, seed: u32) -> Outcome {
    let fail = |detail: String| Outcome {
        name: case.name,
        passed: false,
        detail,
    };
    let server = match Server::start(case.replies.clone(), seed) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot start the server: {e}")),
    };
    // A port that was free a moment ago: bound by us, then released.
    let closed_port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr())
    {
        Ok(a) => a.port(),
        Err(e) => return fail(format!("cannot find a closed port: {e}")),
    };
    let vars = Vars {
        port: server.port(),
        closed_port,
    };
    let module = match write_module(case, &vars, dir) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let Some((program, args)) = cli.split_first() else {
        return fail("no CLI given".into());
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    for entry in &case.allow {
        cmd.arg("-a").arg(vars.fill(entry));
    }
    cmd.arg(&module)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (status, stdout, stderr) = match run_with_timeout(cmd) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut problems = Vec::new();
    let want: Vec<String> = case.stdout.iter().map(|l| vars.fill(l)).collect();
    let got: Vec<&str> = stdout.lines().collect();
    if got != want {
        problems.push(format!(
            "stdout differs\n  expected:\n{}\n  got:\n{}",
            indent(&want.join("\n")),
            indent(&stdout)
        ));
    }
    let ok_status = match case.exit {
        Exit::Code(c) => status == Some(c),
        Exit::Failure => status != Some(0),
    };
    if !ok_status {
        problems.push(format!("exit status {status:?}, expected {:?}", case.exit));
    }
    for text in &case.stderr {
        let text = vars.fill(text);
        if !stderr.contains(&text) {
            problems.push(format!("stderr does not contain {text:?}"));
        }
    }
    let received = server.received();
    if let Some(n) = case.requests
        && (received.len() != n || (n == 0 && server.accepted() != 0))
    {
        problems.push(format!(
            "the server received {} requests on {} connections, expected {n}",
            received.len(),
            server.accepted()
        ));
    }
    for (i, head) in &case.heads {
        let want = vars.fill(head);
        match received.get(*i) {
            Some(r) if r.head == want.as_bytes() => {}
            Some(r) => problems.push(format!(
                "request {i} head:\n  expected {}\n  got      {}",
                module::escape(want.as_bytes()),
                module::escape(&r.head)
            )),
            None => problems.push(format!("request {i} never arrived")),
        }
    }
    for (i, body) in &case.bodies {
        match received.get(*i) {
            Some(r) if &r.body == body => {}
            Some(r) => problems.push(format!(
                "request {i} body: expected {}, got {}",
                module::escape(body),
                module::escape(&r.body)
            )),
            None => problems.push(format!("request {i} never arrived")),
        }
    }
    drop(server);
    if problems.is_empty() {
        Outcome {
            name: case.name,
            passed: true,
            detail: String::new(),
        }
    } else {
        problems.push(format!("stderr:\n{}", indent(&stderr)));
        problems.push(format!("module: {}", module.display()));
        fail(problems.join("\n"))
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

type RunResult = (Option<i32>, String, String);

fn run_with_timeout(mut cmd: Command) -> Result<RunResult, String> {
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() > CASE_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the CLI ran longer than {CASE_TIMEOUT:?}; killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Ok((status.code(), stdout, stderr))
}

/// Runs every case whose name contains `filter` (all when empty), in order, on up to `jobs`
/// threads; returns the outcomes in case order.
pub fn run_all(cli: &[String], filter: &str, dir: &Path, jobs: usize) -> Vec<Outcome> {
    let all: Vec<Case> = cases::all()
        .into_iter()
        .filter(|c| c.name.contains(filter))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    let seed = std::process::id();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(case) = all.get(i) else { break };
                    let outcome = run_case(cli, case, dir, seed.wrapping_add(i as u32 * 13));
                    results.lock().unwrap().push((i, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, o)| o).collect()
}
