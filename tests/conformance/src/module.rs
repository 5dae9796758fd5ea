//! A case's guest program: a list of ABI calls with literal arguments, compiled to one WAT
//! module around `prelude.wat`. Each call prints one line:
//!
//! - `req CODE status=S handle=H`: the u16 and u32 at the default output locations, which are
//!   filled with 0xAA before the call (so `status=43690 handle=2863311530` means "untouched");
//! - `header_get CODE written=W buf=B`, `headers_get_all ...`, `body_read ...`: the u32 at the
//!   written location (0xAA-filled first) and the first `show` bytes of the output buffer
//!   (`~`-filled first), escaped as `\xHH` outside 0x20-0x7E;
//! - `close CODE`;
//! - `read_all CODE bytes=N [text=T]`: `body_read` in a loop until an error or 0;
//! - `mem P: B`: a dump of guest memory.

use std::fmt::Write as _;

/// The default status output location (unaligned on purpose: the ABI needs no alignment).
pub const STATUS: u32 = 0x0201;
/// The default handle output location.
pub const HANDLE: u32 = 0x0213;
/// The default written-count output location.
pub const WRITTEN: u32 = 0x0225;
/// The output buffer.
pub const BUF: u32 = 0x8000;
/// The output buffer's size.
pub const BUF_CAP: u32 = 0x4000;
/// Bytes of one wasm page: a one-page module's memory size.
pub const PAGE: u32 = 0x1_0000;

const SAVED: u32 = 0x0300;
const LABELS: u32 = 0x0800;
const LABELS_END: u32 = 0x1000;
const DATA: u32 = 0x1000;
const DATA_END: u32 = 0x8000;
/// The filler of the output buffer before a call.
pub const BUF_POISON: u8 = b'~';

/// An input range: bytes the generator places in the data area, bytes at a fixed address, or
/// a raw `(ptr, len)` pair that may be anything (out of bounds, wrapping).
#[derive(Clone, Debug)]
pub enum Arg {
    /// Placed in the data area.
    Bytes(Vec<u8>),
    /// Placed at this address (a data segment).
    At(u32, Vec<u8>),
    /// Passed as is.
    Raw(u32, u32),
    /// A range of a larger memory: `(ptr, len)` with no data (zero bytes).
    Zeros(u32, u32),
}

/// Text placed in the data area.
pub fn s(text: impl AsRef<[u8]>) -> Arg {
    Arg::Bytes(text.as_ref().to_vec())
}

/// A handle argument.
#[derive(Clone, Copy, Debug)]
pub enum H {
    /// The handle the `n`-th step (a `req`, counting from 0) wrote; 0 if it failed.
    Of(usize),
    /// A literal.
    Raw(u32),
}

/// One call (or helper) of a case program.
#[derive(Clone, Debug)]
pub enum Step {
    /// `req(url, method, headers, body, status_ptr, handle_ptr)`.
    Req {
        /// URL.
        url: Arg,
        /// Method.
        method: Arg,
        /// Header block.
        headers: Arg,
        /// Body.
        body: Arg,
        /// Status output location.
        status: u32,
        /// Handle output location.
        handle: u32,
    },
    /// `close(h)`.
    Close(H),
    /// `header_get(h, name, buf, len, written)`, printing `show` bytes of the buffer.
    HeaderGet {
        /// Handle.
        h: H,
        /// Name.
        name: Arg,
        /// Buffer pointer.
        buf: u32,
        /// Buffer length.
        len: u32,
        /// Written location.
        written: u32,
        /// Buffer bytes printed.
        show: u32,
    },
    /// `headers_get_all(h, buf, len, written)`.
    HeadersGetAll {
        /// Handle.
        h: H,
        /// Buffer pointer.
        buf: u32,
        /// Buffer length.
        len: u32,
        /// Written location.
        written: u32,
        /// Buffer bytes printed.
        show: u32,
    },
    /// `body_read(h, buf, len, written)`.
    BodyRead {
        /// Handle.
        h: H,
        /// Buffer pointer.
        buf: u32,
        /// Buffer length.
        len: u32,
        /// Written location.
        written: u32,
        /// Buffer bytes printed.
        show: u32,
    },
    /// `body_read` with `chunk`-byte reads until an error or the end; prints the byte count and,
    /// with `text`, the body (which must then fit in the 16 KiB buffer).
    ReadAll {
        /// Handle.
        h: H,
        /// Bytes asked per call.
        chunk: u32,
        /// Print the body.
        text: bool,
    },
    /// Prints `len` bytes of memory at `ptr`.
    Dump(u32, u32),
    /// Writes bytes into memory (no output).
    Poke(u32, Vec<u8>),
}

impl Step {
    /// `req` of `url` with `method`, no headers, no body, default outputs.
    pub fn req(url: &str, method: &str) -> Step {
        Step::req_with(url, method, "", "")
    }

    /// `req` with a header block and a body.
    pub fn req_with(url: &str, method: &str, headers: &str, body: &str) -> Step {
        Step::Req {
            url: s(url),
            method: s(method),
            headers: s(headers),
            body: s(body),
            status: STATUS,
            handle: HANDLE,
        }
    }

    /// `GET url`.
    pub fn get(url: &str) -> Step {
        Step::req(url, "GET")
    }

    /// `header_get` of `name` into the buffer with `len` bytes, showing `show`.
    pub fn header(h: H, name: &str, len: u32, show: u32) -> Step {
        Step::HeaderGet {
            h,
            name: s(name),
            buf: BUF,
            len,
            written: WRITTEN,
            show,
        }
    }

    /// `headers_get_all` into the buffer with `len` bytes, showing `show`.
    pub fn headers(h: H, len: u32, show: u32) -> Step {
        Step::HeadersGetAll {
            h,
            buf: BUF,
            len,
            written: WRITTEN,
            show,
        }
    }

    /// `body_read` into the buffer with `len` bytes, showing `show`.
    pub fn read(h: H, len: u32, show: u32) -> Step {
        Step::BodyRead {
            h,
            buf: BUF,
            len,
            written: WRITTEN,
            show,
        }
    }

    /// The whole body, printed.
    pub fn read_all(h: H) -> Step {
        Step::ReadAll {
            h,
            chunk: 4096,
            text: true,
        }
    }
}

/// The generated module's text.
pub struct Generated {
    /// The WAT text.
    pub wat: String,
}

struct Layout {
    labels: Vec<(String, u32)>,
    next_label: u32,
    next_data: u32,
    segments: Vec<(u32, Vec<u8>)>,
}

impl Layout {
    fn label(&mut self, text: &str) -> Result<(u32, u32), String> {
        if let Some((_, at)) = self.labels.iter().find(|(t, _)| t == text) {
            return Ok((*at, text.len() as u32));
        }
        let at = self.next_label;
        self.next_label += text.len() as u32;
        if self.next_label > LABELS_END {
            return Err("labels do not fit".into());
        }
        self.labels.push((text.to_string(), at));
        self.segments.push((at, text.as_bytes().to_vec()));
        Ok((at, text.len() as u32))
    }

    fn range(&mut self, arg: &Arg) -> Result<(u32, u32), String> {
        match arg {
            Arg::Bytes(b) => {
                let at = self.next_data;
                self.next_data += b.len() as u32;
                if self.next_data > DATA_END {
                    return Err("case data does not fit in 28 KiB".into());
                }
                self.segments.push((at, b.clone()));
                Ok((at, b.len() as u32))
            }
            Arg::At(at, b) => {
                self.segments.push((*at, b.clone()));
                Ok((*at, b.len() as u32))
            }
            Arg::Raw(p, l) | Arg::Zeros(p, l) => Ok((*p, *l)),
        }
    }
}

fn handle_expr(h: H) -> String {
    match h {
        H::Of(n) => format!("(i32.load (i32.const {}))", SAVED + 4 * n as u32),
        H::Raw(v) => format!("(i32.const {})", v as i32),
    }
}

fn c(v: u32) -> String {
    format!("(i32.const {})", v as i32)
}

/// Compiles `steps` into a module with `pages` pages of memory exported as `memory`.
pub fn generate(steps: &[Step], pages: u32) -> Result<Generated, String> {
    let mut l = Layout {
        labels: Vec::new(),
        next_label: LABELS,
        next_data: DATA,
        segments: Vec::new(),
    };
    let mut body = String::new();
    let mut reqs = 0usize;
    for step in steps {
        let print = |l: &mut Layout, text: &str| -> Result<String, String> {
            let (p, n) = l.label(text)?;
            Ok(format!("(call $puts {} {})\n", c(p), c(n)))
        };
        match step {
            Step::Req {
                url,
                method,
                headers,
                body: req_body,
                status,
                handle,
            } => {
                let (up, ul) = l.range(url)?;
                let (mp, ml) = l.range(method)?;
                let (hp, hl) = l.range(headers)?;
                let (bp, bl) = l.range(req_body)?;
                // Inputs placed over the output locations must not be poisoned away.
                let overlaps = [(up, ul), (mp, ml), (hp, hl), (bp, bl)]
                    .iter()
                    .any(|&(p, n)| p < HANDLE + 4 && p.saturating_add(n) > STATUS);
                if !overlaps {
                    writeln!(
                        body,
                        "(call $fill {} (i32.const 2) (i32.const 0xAA))",
                        c(STATUS)
                    )
                    .ok();
                    writeln!(
                        body,
                        "(call $fill {} (i32.const 4) (i32.const 0xAA))",
                        c(HANDLE)
                    )
                    .ok();
                }
                writeln!(
                    body,
                    "(local.set $r (call $req {} {} {} {} {} {} {} {} {} {}))",
                    c(up),
                    c(ul),
                    c(mp),
                    c(ml),
                    c(hp),
                    c(hl),
                    c(bp),
                    c(bl),
                    c(*status),
                    c(*handle)
                )
                .ok();
                body.push_str(&print(&mut l, "req ")?);
                body.push_str("(call $putu (local.get $r))\n");
                body.push_str(&print(&mut l, " status=")?);
                writeln!(body, "(call $putu (i32.load16_u {}))", c(STATUS)).ok();
                body.push_str(&print(&mut l, " handle=")?);
                writeln!(body, "(call $putu (i32.load {}))", c(HANDLE)).ok();
                body.push_str("(call $putc (i32.const 10))\n");
                let save = SAVED + 4 * reqs as u32;
                // Loaded only after success: a failed call's handle location may be out of bounds.
                writeln!(
                    body,
                    "(if (i32.eqz (local.get $r)) (then (i32.store {s} (i32.load {h}))) (else (i32.store {s} (i32.const 0))))",
                    s = c(save),
                    h = c(*handle)
                )
                .ok();
                reqs += 1;
            }
            Step::Close(h) => {
                writeln!(body, "(local.set $r (call $close {}))", handle_expr(*h)).ok();
                body.push_str(&print(&mut l, "close ")?);
                body.push_str("(call $putu (local.get $r))\n(call $putc (i32.const 10))\n");
            }
            Step::HeaderGet {
                h,
                name,
                buf,
                len,
                written,
                show,
            } => {
                let (np, nl) = l.range(name)?;
                let call = format!(
                    "(call $header_get {} {} {} {} {} {})",
                    handle_expr(*h),
                    c(np),
                    c(nl),
                    c(*buf),
                    c(*len),
                    c(*written)
                );
                body.push_str(&output_call(&mut l, "header_get ", &call, *show)?);
            }
            Step::HeadersGetAll {
                h,
                buf,
                len,
                written,
                show,
            } => {
                let call = format!(
                    "(call $headers_get_all {} {} {} {})",
                    handle_expr(*h),
                    c(*buf),
                    c(*len),
                    c(*written)
                );
                body.push_str(&output_call(&mut l, "headers_get_all ", &call, *show)?);
            }
            Step::BodyRead {
                h,
                buf,
                len,
                written,
                show,
            } => {
                let call = format!(
                    "(call $body_read {} {} {} {})",
                    handle_expr(*h),
                    c(*buf),
                    c(*len),
                    c(*written)
                );
                body.push_str(&output_call(&mut l, "body_read ", &call, *show)?);
            }
            Step::ReadAll { h, chunk, text } => {
                let chunk = (*chunk).clamp(1, BUF_CAP);
                writeln!(body, "(local.set $t (i32.const 0))").ok();
                writeln!(body, "(local.set $total (i32.const 0))").ok();
                writeln!(
                    body,
                    "(block $end (loop $more
  (call $fill {w} (i32.const 4) (i32.const 0xAA))
  (if (i32.gt_u (i32.add (local.get $t) {k}) {cap}) (then (local.set $t (i32.const 0))))
  (local.set $r (call $body_read {h} (i32.add {buf} (local.get $t)) {k} {w}))
  (br_if $end (local.get $r))
  (br_if $end (i32.eqz (i32.load {w})))
  (local.set $t (i32.add (local.get $t) (i32.load {w})))
  (local.set $total (i32.add (local.get $total) (i32.load {w})))
  (br $more)))",
                    w = c(WRITTEN),
                    k = c(chunk),
                    cap = c(BUF_CAP),
                    h = handle_expr(*h),
                    buf = c(BUF)
                )
                .ok();
                body.push_str(&print(&mut l, "read_all ")?);
                body.push_str("(call $putu (local.get $r))\n");
                body.push_str(&print(&mut l, " bytes=")?);
                body.push_str("(call $putu (local.get $total))\n");
                if *text {
                    body.push_str(&print(&mut l, " text=")?);
                    writeln!(body, "(call $putesc {} (local.get $t))", c(BUF)).ok();
                }
                body.push_str("(call $putc (i32.const 10))\n");
            }
            Step::Dump(p, n) => {
                body.push_str(&print(&mut l, &format!("mem {p:#x}: "))?);
                writeln!(
                    body,
                    "(call $putesc {} {})\n(call $putc (i32.const 10))",
                    c(*p),
                    c(*n)
                )
                .ok();
            }
            Step::Poke(p, bytes) => {
                for (i, b) in bytes.iter().enumerate() {
                    writeln!(body, "(i32.store8 {} (i32.const {b}))", c(p + i as u32)).ok();
                }
            }
        }
    }
    let mut wat = String::from("(module\n");
    wat.push_str(include_str!("prelude.wat"));
    writeln!(wat, "  (memory (export \"memory\") {pages})").ok();
    for (at, bytes) in &l.segments {
        writeln!(
            wat,
            "  (data (i32.const {}) \"{}\")",
            *at as i32,
            wat_string(bytes)
        )
        .ok();
    }
    wat.push_str("  (func (export \"_start\") (local $r i32) (local $t i32) (local $total i32)\n");
    wat.push_str(&body);
    wat.push_str("  (call $flush))\n)\n");
    Ok(Generated { wat })
}

/// One output-writing call: poison, call, print code, written count and `show` buffer bytes.
fn output_call(l: &mut Layout, label: &str, call: &str, show: u32) -> Result<String, String> {
    let mut out = String::new();
    writeln!(
        out,
        "(call $fill {} (i32.const 4) (i32.const 0xAA))",
        c(WRITTEN)
    )
    .ok();
    writeln!(
        out,
        "(call $fill {} {} (i32.const {}))",
        c(BUF),
        c(show),
        BUF_POISON
    )
    .ok();
    writeln!(out, "(local.set $r {call})").ok();
    let (p, n) = l.label(label)?;
    writeln!(
        out,
        "(call $puts {} {})\n(call $putu (local.get $r))",
        c(p),
        c(n)
    )
    .ok();
    let (p, n) = l.label(" written=")?;
    writeln!(
        out,
        "(call $puts {} {})\n(call $putu (i32.load {}))",
        c(p),
        c(n),
        c(WRITTEN)
    )
    .ok();
    if show > 0 {
        let (p, n) = l.label(" buf=")?;
        writeln!(
            out,
            "(call $puts {} {})\n(call $putesc {} {})",
            c(p),
            c(n),
            c(BUF),
            c(show)
        )
        .ok();
    }
    out.push_str("(call $putc (i32.const 10))\n");
    Ok(out)
}

/// Bytes as a WAT string literal body.
pub fn wat_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            s.push(b as char);
        } else {
            write!(s, "\\{b:02x}").ok();
        }
    }
    s
}

/// The way the programs print bytes: 0x20-0x7E except `\` as themselves, others as `\xHH`.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(b as char);
        } else {
            write!(s, "\\x{b:02x}").ok();
        }
    }
    s
}
