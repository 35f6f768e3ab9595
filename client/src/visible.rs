//! Record text made safe to show a person. Records are written by
//! producers (and an operator can append its own bytes), so their text can
//! carry invisible characters that make it read differently from what it
//! is: bidirectional overrides that reorder a target name, zero-width
//! spaces and joiners that split or hide words, tag characters that smuggle
//! text no one sees, line separators that start a fake line. The HTML
//! report and the CLI's human-readable output drop them all.
//!
//! "Invisible" is Unicode general category Cf (format) plus the line and
//! paragraph separators (Zl, Zp). The category comes from the
//! `unicode-properties` crate's tables (Unicode 18), not a hand list, so
//! characters a hand list forgets (U+180E, U+FFF9–U+FFFB, U+110BD, the tag
//! block, …) are dropped too.

use std::borrow::Cow;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

/// Whether `c` is an invisible formatting character: category Cf, or a
/// line (U+2028) or paragraph (U+2029) separator.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// `s` without its invisible characters (see [`is_invisible`]); borrowed
/// when there are none.
pub fn strip_invisible(s: &str) -> Cow<'_, str> {
    if s.chars().any(is_invisible) {
        Cow::Owned(s.chars().filter(|&c| !is_invisible(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// `s` for a terminal: invisible characters dropped, and control
/// characters other than newline and tab (escape sequences could rewrite
/// what the terminal shows) replaced by U+FFFD.
pub fn for_terminal(s: &str) -> String {
    s.chars()
        .filter(|&c| !is_invisible(c))
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_every_format_character_and_the_separators() {
        let hostile = [
            '\u{ad}',
            '\u{61c}',
            '\u{180e}',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{200e}',
            '\u{200f}',
            '\u{2028}',
            '\u{2029}',
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2060}',
            '\u{2061}',
            '\u{2062}',
            '\u{2063}',
            '\u{2064}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{feff}',
            '\u{fff9}',
            '\u{fffa}',
            '\u{fffb}',
            '\u{e0001}',
            '\u{e0020}',
            '\u{e0041}',
            '\u{e007f}',
        ];
        for c in hostile {
            assert!(is_invisible(c), "U+{:04X}", c as u32);
            let s = format!("prod{c}/api");
            assert_eq!(strip_invisible(&s), "prod/api", "U+{:04X}", c as u32);
            assert_eq!(for_terminal(&s), "prod/api", "U+{:04X}", c as u32);
        }
        // Ordinary text, including non-Latin scripts and emoji, is kept and
        // not copied.
        for s in [
            "prod/api",
            "déploiement",
            "مرحبا",
            "日本語",
            "✓ ok 🚀",
            "a\tb\nc",
        ] {
            assert!(matches!(strip_invisible(s), Cow::Borrowed(_)), "{s}");
        }
        assert_eq!(for_terminal("a\u{1b}[2Jb\nc"), "a\u{fffd}[2Jb\nc");
    }
}
