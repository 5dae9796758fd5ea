//! cli/README.md, the crate's front page on crates.io: its guest program is the guest crate's
//! README example (compiled there as a doctest), and every flag its commands use is one that
//! `wasmtime-http --help` lists.

use std::process::Command;

fn read(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The contents of the fenced code blocks of `markdown` whose info string starts with `lang`.
fn code_blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) if info.split(',').next() == Some(lang) => {
                current = Some(String::new());
            }
            (Some(block), Some("")) => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn readme_guest_is_the_guest_crates_doctest() {
    let cli = code_blocks(&read("README.md"), "rust");
    let guest = code_blocks(&read("../guest/README.md"), "rust");
    assert_eq!(cli.len(), 1, "cli/README.md has one Rust block");
    assert!(
        guest.first() == cli.first(),
        "cli/README.md's guest differs from guest/README.md's first (doctested) example"
    );
}

#[test]
fn readme_commands_use_flags_the_command_has() {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmtime-http"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let mut checked = 0;
    for block in code_blocks(&read("README.md"), "sh") {
        // A command is a line starting with `wasmtime-http` and its `\` continuation lines.
        let mut in_command = false;
        for line in block.lines() {
            let line = line.split(" #").next().unwrap_or_default().trim();
            in_command = line.starts_with("wasmtime-http ") || (in_command && !line.is_empty());
            if !in_command {
                continue;
            }
            for flag in line
                .split_whitespace()
                .filter(|w| w.starts_with('-') && *w != "-")
            {
                let listed = if flag.starts_with("--") {
                    help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n"))
                } else {
                    help.contains(&format!("{flag}, --"))
                };
                assert!(
                    listed,
                    "cli/README.md uses {flag}, which --help does not list"
                );
                checked += 1;
            }
            in_command = line.ends_with('\\');
        }
    }
    assert!(
        checked >= 5,
        "found only {checked} flags in cli/README.md's commands"
    );
}
