//! Just enough of the man(7) macros to check our manual pages without
//! groff: which requests a page uses, which words it sets in bold, and
//! the text of its no-fill (example) blocks.

/// The requests our pages may use. Anything else is a typo or a macro
/// some formatter lacks.
const KNOWN_REQUESTS: &[&str] = &[
    "TH", "SH", "SS", "PP", "TP", "TQ", "IP", "RS", "RE", "B", "I", "BI", "BR", "IB", "IR", "RB",
    "RI", "br", "nf", "fi",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Roman,
    Bold,
    Italic,
}

/// A manual page, read.
pub struct Page {
    pub name: String,
    /// Words set in bold, with `\-` read as `-`, in page order.
    pub bold: Vec<String>,
    /// The lines of each `.nf` ... `.fi` block, unescaped.
    pub examples: Vec<String>,
    /// What is wrong with the page's markup, one line each.
    pub problems: Vec<String>,
}

impl Page {
    /// Whether `word` is set in bold somewhere, spelled exactly so.
    pub fn has_bold(&self, word: &str) -> bool {
        self.bold.iter().any(|w| w == word)
    }
}

/// Reads the page `name` (for messages) from its source `text`.
pub fn read(name: &str, text: &str) -> Page {
    let mut page = Page {
        name: name.to_string(),
        bold: Vec::new(),
        examples: Vec::new(),
        problems: Vec::new(),
    };
    let mut example: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let at = format!("{name}:{}", n + 1);
        if line.ends_with([' ', '\t']) {
            page.problems.push(format!("{at}: trailing blank"));
        }
        if line.starts_with(".\\\"") {
            continue;
        }
        if line.starts_with('\'') {
            page.problems
                .push(format!("{at}: a text line may not start with '"));
            continue;
        }
        let Some(request) = line.strip_prefix('.') else {
            if let Some(block) = example.as_mut() {
                block.push_str(&unescape(line, &at, &mut page.problems));
                block.push('\n');
            }
            collect_bold(line, Font::Roman, &at, &mut page);
            continue;
        };
        let (macro_name, rest) = request.split_once(' ').unwrap_or((request, ""));
        if !KNOWN_REQUESTS.contains(&macro_name) {
            page.problems
                .push(format!("{at}: unknown request .{macro_name}"));
            continue;
        }
        match macro_name {
            "nf" => example = Some(String::new()),
            "fi" => match example.take() {
                Some(block) => page.examples.push(block),
                None => page.problems.push(format!("{at}: .fi without .nf")),
            },
            _ => {}
        }
        let fonts: &[Font] = match macro_name {
            "B" => &[Font::Bold],
            "I" => &[Font::Italic],
            "BI" => &[Font::Bold, Font::Italic],
            "BR" => &[Font::Bold, Font::Roman],
            "IB" => &[Font::Italic, Font::Bold],
            "IR" => &[Font::Italic, Font::Roman],
            "RB" => &[Font::Roman, Font::Bold],
            "RI" => &[Font::Roman, Font::Italic],
            _ => &[Font::Roman],
        };
        let args = arguments(rest);
        if fonts.len() == 1 {
            collect_bold(&args.join(" "), fonts[0], &at, &mut page);
        } else {
            for (i, arg) in args.iter().enumerate() {
                collect_bold(arg, fonts[i % 2], &at, &mut page);
            }
        }
    }
    if example.is_some() {
        page.problems.push(format!("{name}: .nf never closed"));
    }
    page
}

/// A request's arguments: blank-separated, `"..."` quoting blanks.
fn arguments(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    args.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            _ => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(current);
    }
    args
}

/// Adds the bold words of `text`, which starts in `font`, following its
/// `\fX` changes (`\fP`: the previous font).
fn collect_bold(text: &str, font: Font, at: &str, page: &mut Page) {
    let mut font = font;
    let mut previous = font;
    let mut bold = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'f') {
            chars.next();
            let next = match chars.next() {
                Some('B') => Font::Bold,
                Some('I') => Font::Italic,
                Some('R') => Font::Roman,
                Some('P') => previous,
                other => {
                    page.problems
                        .push(format!("{at}: unknown font escape \\f{other:?}"));
                    font
                }
            };
            previous = font;
            font = next;
            bold.push(' ');
            continue;
        }
        if font == Font::Bold {
            bold.push(c);
        } else {
            bold.push(' ');
        }
    }
    let bold = unescape(&bold, at, &mut page.problems);
    let words = bold
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| !w.is_empty() && *w != "-")
        .map(str::to_string);
    page.bold.extend(words);
}

/// The text of `line` with the escapes our pages use read.
fn unescape(line: &str, at: &str, problems: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('-') => out.push('-'),
            Some('(') => {
                let name: String = chars.by_ref().take(2).collect();
                match name.as_str() {
                    "dq" => out.push('"'),
                    "aq" => out.push('\''),
                    _ => problems.push(format!("{at}: unknown character \\({name}")),
                }
            }
            Some('f') => {
                chars.next();
            }
            Some('\\') => out.push('\\'),
            other => problems.push(format!("{at}: unknown escape \\{other:?}")),
        }
    }
    out
}
