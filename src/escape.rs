//! Escaping for where a user string lands. Names, values, diffs and error
//! messages come from manifests and from AWS, so they are hostile: nothing in
//! them may change the structure of a pull-request comment or drive a terminal.
//!
//! - [`visible`]: one line on a terminal. Control characters (C0 but tab, DEL,
//!   C1) and the invisible Unicode controls that reorder or split text (bidi
//!   overrides and isolates, line and paragraph separators) are shown as
//!   `\u{1b}`, newline as `\n`, carriage return as `\r`. Tab is kept: it
//!   only moves forward, so it cannot hide or overwrite text.
//! - [`visible_lines`]: the same for a multi-line block, which keeps its newlines.
//! - [`html`]: text inside HTML (`<summary>`, `<code>`), after [`visible`] so
//!   it stays on its line (a blank line would end the HTML block).
//! - [`md_text`]: plain Markdown text; its inline syntax is backslash-escaped.
//! - [`code_span`], [`cell_code_span`]: an inline code span with a fence longer
//!   than any backtick run inside (CommonMark), `|` escaped in a table cell.
//! - [`fenced`]: a fenced code block whose fence is longer than any backtick run
//!   inside (CommonMark: only a fence at least as long closes it).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters a terminal or a bidi-aware viewer acts on instead of showing.
fn hidden(c: char, keep_newline: bool) -> bool {
    match c {
        '\t' => false,
        '\n' => !keep_newline,
        c if c.is_control() => true,
        // Bidi embeddings, overrides and isolates; marks; line and paragraph separators.
        '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        '\u{2028}' | '\u{2029}' => true,
        _ => false,
    }
}

fn escape_controls(s: &str, keep_newline: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| hidden(c, keep_newline)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !hidden(c, keep_newline) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// One line for a terminal: every control character shown as an escape.
pub fn visible(s: &str) -> Cow<'_, str> {
    escape_controls(s, false)
}

/// A block for a terminal: its newlines kept, every other control shown as an escape.
pub fn visible_lines(s: &str) -> Cow<'_, str> {
    escape_controls(s, true)
}

/// Text inside HTML (`<summary>`, `<code>` in an HTML block), on one line.
pub fn html(s: &str) -> String {
    html_text(&visible(s))
}

/// `s` escaped for HTML content and attribute values; controls left as they are.
pub fn html_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
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

/// Plain Markdown text on one line (a quote, a list item, a table cell): each
/// character of inline syntax (code spans, emphasis, links, raw HTML, entities,
/// table cells, strikethrough) is backslash-escaped, as CommonMark allows for
/// any ASCII punctuation.
pub fn md_text(s: &str) -> String {
    let s = visible(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An inline code span that nothing inside can close: a backtick fence longer
/// than any backtick run inside (CommonMark), padded with a space where the
/// text starts or ends with a backtick.
pub fn code_span(s: &str) -> String {
    span(&visible(s))
}

/// [`code_span`] inside a table row: GitHub splits cells at every `|` not
/// escaped, even in a code span, and shows `\|` there as `|`.
pub fn cell_code_span(s: &str) -> String {
    span(&visible(s).replace('|', "\\|"))
}

fn span(s: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || s.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// A fenced code block around `body` (lines, each ending in `\n`), with an info
/// string such as `diff`. The fence is longer than any backtick run in the body,
/// so no line of it can close the block; control characters are shown as escapes.
pub fn fenced(info: &str, body: &str) -> String {
    let fence = "`".repeat((longest_backtick_run(body) + 1).max(3));
    let body = visible_lines(body);
    let mut out = format!("{fence}{info}\n{body}");
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_shows_controls_and_keeps_the_rest() {
        assert_eq!(visible("plain name-1"), "plain name-1");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
        assert_eq!(visible("a\u{1b}[2Kb"), "a\\u{1b}[2Kb");
        assert_eq!(visible("a\nb\r"), "a\\nb\\r");
        assert_eq!(visible("tab\tkept"), "tab\tkept");
        assert_eq!(visible("del\u{7f} csi\u{9b}"), "del\\u{7f} csi\\u{9b}");
        assert_eq!(visible("rtl\u{202e}txt"), "rtl\\u{202e}txt");
        assert_eq!(visible("ünïcødé ✓"), "ünïcødé ✓");
    }

    #[test]
    fn visible_lines_keeps_newlines_only() {
        assert_eq!(visible_lines("a\nb\u{1b}c\n"), "a\nb\\u{1b}c\n");
    }

    #[test]
    fn html_leaves_no_markup() {
        let h = html("x</code></summary><b>\n\n<!--");
        assert_eq!(h, "x&lt;/code&gt;&lt;/summary&gt;&lt;b&gt;\\n\\n&lt;!--");
        assert_eq!(html("a&\"'"), "a&amp;&quot;&#39;");
    }

    #[test]
    fn md_text_escapes_inline_syntax() {
        assert_eq!(md_text("plain words: ok."), "plain words: ok.");
        assert_eq!(
            md_text("`c` *e* _u_ [l](u) <b> &amp; a|b ~s~ \\"),
            "\\`c\\` \\*e\\* \\_u\\_ \\[l\\](u) \\<b\\> \\&amp; a\\|b \\~s\\~ \\\\"
        );
        // `\n` is shown, its backslash escaped so that Markdown shows it too.
        assert_eq!(md_text("two\n\nparagraphs"), "two\\\\n\\\\nparagraphs");
    }

    #[test]
    fn a_code_span_outlasts_every_backtick_run() {
        assert_eq!(code_span("Topic/a"), "`Topic/a`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("a``b`"), "``` a``b` ```");
        assert_eq!(code_span("`"), "`` ` ``");
        assert_eq!(code_span("a|b"), "`a|b`");
        assert_eq!(cell_code_span("a|b"), "`a\\|b`");
        assert_eq!(code_span("a\nb"), "`a\\nb`");
    }

    #[test]
    fn a_fence_outlasts_every_backtick_run() {
        let body = "+ ```\n+ ````` not a close\n";
        let f = fenced("diff", body);
        assert!(f.starts_with("``````diff\n"), "{f}");
        assert!(f.ends_with("\n``````\n"), "{f}");
        assert_eq!(fenced("", "x\n"), "```\nx\n```\n");
        assert_eq!(fenced("", "esc\u{1b}\n"), "```\nesc\\u{1b}\n```\n");
    }
}
