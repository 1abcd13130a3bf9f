//! Showing file names and tag text to a person without lying or harming the
//! terminal.
//!
//! Why not `Path::display`: it replaces bytes that are not UTF-8 with U+FFFD,
//! so two different files can print alike, and it passes control characters
//! (newlines, ANSI escapes) straight to the terminal, where a hostile file
//! name can rewrite what the user sees. Here every byte that is not printable
//! UTF-8 is written as an escape (`\xff`, `\n`, `\u{1b}`), so what is shown is
//! unambiguous and safe, and ordinary names print unchanged.

use std::path::Path;

/// `path` for a message or a listing: printable UTF-8 as is, every other
/// byte or control character escaped.
pub fn shown(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        escape_bytes(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        shown_text(&path.to_string_lossy())
    }
}

/// Text (a tag, a reason) with control characters escaped.
pub fn shown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// Bytes that are mostly UTF-8: valid runs escaped like [`shown_text`],
/// invalid bytes as `\xNN`.
pub fn escape_bytes(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    while !bytes.is_empty() {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                push_escaped(&mut out, s);
                break;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // `valid_up_to` promises this prefix is UTF-8.
                push_escaped(&mut out, std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(rest.len()).max(1);
                for b in &rest[..bad] {
                    out.push_str(&format!("\\x{b:02x}"));
                }
                bytes = &rest[bad..];
            }
        }
    }
    out
}

fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
}

/// Serialises a path as its [`shown`] form: JSON strings must be UTF-8, and
/// serde's own `Path` support fails (and `json!` panics) on other names.
pub fn serialize_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&shown(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_unchanged_and_odd_bytes_escaped() {
        assert_eq!(
            shown(Path::new("/music/it's “quoted” 日本 🎵.flac")),
            "/music/it's “quoted” 日本 🎵.flac"
        );
        assert_eq!(shown_text("a\nb\u{1b}[31mc\u{7f}"), "a\\nb\\u{1b}[31mc\\u{7f}");
        assert_eq!(escape_bytes(b"a\xffb\xfe\xc3"), "a\\xffb\\xfe\\xc3");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let a = shown(Path::new(std::ffi::OsStr::from_bytes(b"/m/x\xff.wav")));
            let b = shown(Path::new(std::ffi::OsStr::from_bytes(b"/m/x\xfe.wav")));
            assert_ne!(a, b, "names that differ only in invalid bytes stay apart");
        }
    }
}
