//! The layers only reach down. Every top-level module of `src/` may name
//! only the modules its row of [`ALLOWED`] lists (through `crate::`, in
//! code; documentation links are not imports), so `config`, `spread`,
//! `net` and `membership` never import one another, the pure `engine`
//! never imports the logging facade or a transport, and what several
//! layers share lives in `base`, which imports nothing. `daemon`, `app`,
//! `cli` and `main` are the wiring and may import anything. Inside each
//! folder the modules import one way too: no circle among the files of
//! one folder (see [`no_folder_holds_an_import_circle`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each layer and the modules it may import.
const ALLOWED: &[(&str, &[&str])] = &[
    ("base", &[]),
    ("descriptor", &[]),
    ("testutil", &[]),
    ("log", &["base"]),
    ("config", &["base", "log"]),
    ("spread", &["base", "log", "descriptor"]),
    ("net", &["base", "log", "descriptor"]),
    ("membership", &["base", "log"]),
    ("engine", &["base", "config"]),
    ("control", &["base", "config", "engine", "log"]),
    ("process", &["base", "log"]),
    ("os", &[]),
    ("hooks", &["base", "config", "log", "process"]),
    ("track", &["base", "config", "engine"]),
    ("check", &["track"]),
];

/// The wiring: may import any layer.
const WIRING: &[&str] = &["daemon", "app", "cli", "main", "lib"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {dir:?}: {e}"));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let first = file
        .strip_prefix(src)
        .expect("a file under src")
        .components()
        .next()
        .expect("a path component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The crate modules that `code` names through `crate::` (in `use`
/// declarations, paths and `crate::{a, b::{c, d}}` groups, over as many
/// lines as they take). The `log_*!` macros count as the `log` module;
/// `$crate::` inside macro definitions names the macro's own module and is
/// skipped; comments are not code.
fn imports(code: &str) -> BTreeSet<String> {
    let code = without_line_comments(code);
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let preceded_by_dollar = rest[..at].ends_with('$');
        let after = &rest[at + "crate::".len()..];
        rest = after;
        if preceded_by_dollar {
            continue;
        }
        let names = match after.strip_prefix('{') {
            Some(group) => top_level_items(group),
            None => vec![after],
        };
        for name in names {
            let ident: String = name
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if ident.is_empty() || ident == "self" {
                continue;
            }
            let module = if ident.starts_with("log_") {
                "log".to_string()
            } else {
                ident
            };
            found.insert(module);
        }
    }
    found
}

/// `code` with every `//` comment (doc comments included) cut to the end
/// of its line. A `//` inside a string literal is rare enough in `src/`
/// to be cut too: it can only hide an import that a string mentions.
fn without_line_comments(code: &str) -> String {
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The items of a `{ ... }` group that starts just after its opening brace,
/// split at the commas of its own level: `a, b::{c, d}, e}` gives `a`,
/// `b::{c, d}` and `e`. Nested groups belong to their item, whose first
/// name is the module imported.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// module -> (imported module -> first file that imports it)
fn import_graph() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for file in files {
        let module = module_of(&src, &file);
        let code =
            fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {file:?}: {e}"));
        let edges = graph.entry(module.clone()).or_default();
        for imported in imports(&code) {
            if imported != module {
                edges.entry(imported).or_insert_with(|| file.clone());
            }
        }
    }
    graph
}

#[test]
fn the_scanner_sees_paths_groups_and_macros_but_not_comments() {
    let code = "use crate::base::VifAddress;\n\
                use crate::{log_error, net::iface};\n\
                let x = crate::engine::Engine::new(s);\n\
                // crate::daemon is only mentioned here\n\
                ($($a:tt)*) => { $crate::log::emit() };\n";
    let expected: BTreeSet<String> = ["base", "log", "net", "engine"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(imports(code), expected);
}

#[test]
fn the_scanner_sees_nested_and_multi_line_groups() {
    let code = "use crate::{\n\
                    engine::{Engine, Input},\n\
                    net::iface, // a comment naming crate::daemon\n\
                    self,\n\
                };\n\
                use crate::{config::{Config, model::{A, B}}, spread::wire};\n";
    let expected: BTreeSet<String> = ["engine", "net", "config", "spread"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(imports(code), expected);
}

#[test]
fn every_layer_imports_only_the_layers_below_it() {
    let graph = import_graph();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut violations = Vec::new();
    for (module, edges) in &graph {
        if WIRING.contains(&module.as_str()) {
            continue;
        }
        let Some(may) = allowed.get(module.as_str()) else {
            violations.push(format!(
                "src/{module} is a module no layer row names: add it to ALLOWED in tests/it/layers.rs \
                 with the layers it may import"
            ));
            continue;
        };
        for (imported, file) in edges {
            if !may.contains(&imported.as_str()) && imported != "testutil" {
                violations.push(format!(
                    "{module} imports {imported} ({}), which is not below it",
                    file.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
    // The scan really read the tree: edges every build has are seen.
    for (module, imported) in [("engine", "config"), ("net", "base"), ("daemon", "engine")] {
        assert!(
            graph.get(module).is_some_and(|e| e.contains_key(imported)),
            "the scan did not see {module} import {imported}"
        );
    }
}

#[test]
fn the_shared_vocabulary_imports_nothing() {
    let graph = import_graph();
    let base = graph.get("base").expect("src/base exists");
    assert!(
        base.is_empty(),
        "base imports {:?}",
        base.keys().collect::<Vec<_>>()
    );
}

/// The pure layers hold no unsafe code, and say so where the compiler
/// enforces it: each module root forbids it.
#[test]
fn the_pure_layers_forbid_unsafe_code() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for module in ["base", "engine", "membership", "spread"] {
        let root = src.join(module).join("mod.rs");
        let code =
            fs::read_to_string(&root).unwrap_or_else(|e| panic!("cannot read {root:?}: {e}"));
        assert!(
            code.lines().any(|l| l.trim() == "#![forbid(unsafe_code)]"),
            "{root:?} does not forbid unsafe code"
        );
    }
}

/// Circles this test found when it was written and that no change has
/// opened yet, each as its folder and its modules. The test fails when
/// one is gone, so that its entry goes with it.
const KNOWN_CIRCLES: &[(&str, &[&str])] = &[
    // `Node` keeps the state its jobs define (`Growth`, `Links`, `Peers`,
    // ...) and the job files add methods to `Node`: the engine's layout
    // (the state apart from the jobs) would open it.
    (
        "membership",
        &[
            "coordinator",
            "lease",
            "links",
            "node",
            "outputs",
            "peers",
            "replay",
            "status",
            "unreachable",
        ],
    ),
];

/// `code` with comments, string literals and character literals blanked
/// out (newlines kept), so braces and paths left are code.
fn code_only(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"..." or r#"..."#, closed by the same hashes.
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            let mut end = j + 1;
            while end < chars.len()
                && !(chars[end] == '"' && (1..=hashes).all(|h| chars.get(end + h) == Some(&'#')))
            {
                end += 1;
            }
            let end = (end + hashes + 1).min(chars.len());
            for &skipped in &chars[i..end] {
                blank(&mut out, skipped);
            }
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let step = if chars[i] == '\\' { 2 } else { 1 };
                for &skipped in chars.iter().skip(i).take(step) {
                    blank(&mut out, skipped);
                }
                i += step;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: '\n', '\'', '\u{7f}'.
            let mut end = i + 2;
            while end < chars.len() && chars[end] != '\'' {
                end += 1;
            }
            for _ in i..=end.min(chars.len() - 1) {
                out.push(' ');
            }
            i = end + 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '_')
}

/// `code` (from [`code_only`]) without its `#[cfg(test)] mod name { ... }`
/// blocks: the unit tests are not the module's dependencies.
fn without_test_modules(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let inline_module = trimmed
            .strip_prefix("mod ")
            .and_then(|m| m.find(['{', ';']).map(|end| &m[end..]))
            .filter(|m| m.starts_with('{'));
        let Some(block) = inline_module else {
            out.push_str(&rest[..at + "#[cfg(test)]".len()]);
            rest = after;
            continue;
        };
        out.push_str(&rest[..at]);
        let mut depth = 0usize;
        let mut end = block.len();
        for (i, c) in block.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &block[end..];
    }
    out.push_str(rest);
    out
}

/// Every path `code` names that starts with `crate::`, `self::` or
/// `super::`, with its groups expanded: `super::{a::{B, C}, d}` gives
/// `super::a::B`, `super::a::C` and `super::d`, each as its segments.
fn module_paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut paths = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = ["crate::", "self::", "super::"]
            .iter()
            .any(|p| chars[i..].iter().take(p.len()).copied().eq(p.chars()));
        let standalone = i == 0 || !(ident_before(&chars, i) || chars[i - 1] == '$');
        let continues_path = i >= 2 && chars[i - 2..i] == [':', ':'];
        if starts && standalone && !continues_path {
            let (found, end) = path_tree(&chars, i, Vec::new());
            paths.extend(found);
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    paths
}

/// The paths of the tree at `chars[i..]` under `prefix`, and where it
/// ends.
fn path_tree(chars: &[char], mut i: usize, mut prefix: Vec<String>) -> (Vec<Vec<String>>, usize) {
    let skip_space = |mut i: usize| {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        i
    };
    loop {
        i = skip_space(i);
        if chars.get(i) == Some(&'{') {
            let mut paths = Vec::new();
            i += 1;
            loop {
                i = skip_space(i);
                match chars.get(i) {
                    None => return (paths, i),
                    Some('}') => return (paths, i + 1),
                    Some(',') => i += 1,
                    Some(_) => {
                        let (found, end) = path_tree(chars, i, prefix.clone());
                        paths.extend(found);
                        i = end.max(i + 1);
                        // Skip an `as name` or anything else up to the
                        // next item of this group.
                        while chars.get(i).is_some_and(|c| *c != ',' && *c != '}') {
                            i += 1;
                        }
                    }
                }
            }
        }
        let start = i;
        while chars
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            i += 1;
        }
        if i == start {
            return (vec![prefix], i);
        }
        prefix.push(chars[start..i].iter().collect());
        let after = skip_space(i);
        if chars.get(after) == Some(&':') && chars.get(after + 1) == Some(&':') {
            i = after + 2;
        } else {
            return (vec![prefix], i);
        }
    }
}

/// The module path of a file of `src/`: `engine/view.rs` is
/// `["engine", "view"]`, `engine/mod.rs` is `["engine"]`, `lib.rs` and
/// `main.rs` are the root.
fn module_path_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under src");
    let mut path: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = path.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if path.is_empty() && (stem == "lib" || stem == "main") {
        return path;
    }
    if stem != "mod" {
        path.push(stem.to_string());
    }
    path
}

/// Where `path`, named in the module at `from`, leads: the deepest module
/// of `modules` that it names (an item's module, or the module itself).
fn resolve(
    from: &[String],
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut at: Vec<String> = from.to_vec();
    let mut segments = path.iter().peekable();
    match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            at.clear();
            segments.next();
        }
        Some("self") => {
            segments.next();
        }
        Some("super") => {
            while segments.peek().map(|s| s.as_str()) == Some("super") {
                at.pop()?;
                segments.next();
            }
        }
        _ => return None,
    }
    for segment in segments {
        let mut deeper = at.clone();
        deeper.push(segment.clone());
        if !modules.contains(&deeper) {
            break;
        }
        at = deeper;
    }
    Some(at)
}

/// Per folder (its module path joined with `/`), the edges between the
/// modules directly inside it: `(from, to) -> a file that makes it`. A
/// file deeper down counts for the module of the folder it sits in.
type FolderGraphs = BTreeMap<String, BTreeMap<(String, String), String>>;

fn folder_graphs(files: &[(Vec<String>, String, String)]) -> FolderGraphs {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _, _)| m.clone()).collect();
    let mut graphs = FolderGraphs::new();
    for (module, name, code) in files {
        let code = without_test_modules(&code_only(code));
        for path in module_paths(&code) {
            let Some(target) = resolve(module, &path, &modules) else {
                continue;
            };
            let shared = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if let (Some(a), Some(b)) = (module.get(shared), target.get(shared)) {
                graphs
                    .entry(module[..shared].join("/"))
                    .or_default()
                    .entry((a.clone(), b.clone()))
                    .or_insert_with(|| name.clone());
            }
        }
    }
    graphs
}

/// The circles of one folder's graph: each set of two or more modules
/// that reach one another, as one path around it (`a → b → a`) and its
/// modules sorted.
fn circles(edges: &BTreeMap<(String, String), String>) -> Vec<(Vec<String>, Vec<String>)> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        next.entry(a).or_default().push(b);
    }
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(m) = stack.pop() {
            for &n in next.get(m).into_iter().flatten() {
                if seen.insert(n) {
                    stack.push(n);
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&str, BTreeSet<&str>> = next.keys().map(|&m| (m, reach(m))).collect();
    let mut found = Vec::new();
    let mut placed = BTreeSet::new();
    for (&m, reached) in &reaches {
        if placed.contains(m) || !reached.contains(m) {
            continue;
        }
        let members: Vec<&str> = reached
            .iter()
            .copied()
            .filter(|n| reaches.get(n).is_some_and(|r| r.contains(m)))
            .collect();
        placed.extend(members.iter().copied());
        // One way around: from `m`, a shortest path back to `m` inside
        // the circle.
        let mut before: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([m]);
        'search: while let Some(at) = queue.pop_front() {
            for &n in next.get(at).into_iter().flatten() {
                if !members.contains(&n) || before.contains_key(n) {
                    continue;
                }
                before.insert(n, at);
                if n == m {
                    break 'search;
                }
                queue.push_back(n);
            }
        }
        let mut way = vec![m.to_string()];
        let mut at = before[m];
        while at != m {
            way.push(at.to_string());
            at = before[at];
        }
        way.push(m.to_string());
        way.reverse();
        found.push((way, members.iter().map(|s| s.to_string()).collect()));
    }
    found
}

/// Every file of `src/` as (module path, name for messages, text).
fn source_files() -> Vec<(Vec<String>, String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let code =
                fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {file:?}: {e}"));
            let name = file.strip_prefix(&src).expect("under src").display();
            (module_path_of(&src, &file), format!("src/{name}"), code)
        })
        .collect()
}

/// Inside a folder, the modules import one way: no module reaches itself
/// through `super::`/`crate::` paths to its siblings, so each file can be
/// read knowing only what it imports.
#[test]
fn no_folder_holds_an_import_circle() {
    let graphs = folder_graphs(&source_files());
    let mut problems = Vec::new();
    let mut seen_known = BTreeSet::new();
    for (folder, edges) in &graphs {
        for (way, members) in circles(edges) {
            let known = KNOWN_CIRCLES
                .iter()
                .position(|(f, m)| f == folder && m.iter().copied().eq(members.iter()));
            if let Some(known) = known {
                seen_known.insert(known);
                continue;
            }
            let steps: Vec<String> = way
                .windows(2)
                .map(|w| {
                    let file = &edges[&(w[0].clone(), w[1].clone())];
                    format!("{} → {} ({file})", w[0], w[1])
                })
                .collect();
            problems.push(format!(
                "src/{folder}: import circle among {}: {}: {}",
                members.join(", "),
                way.join(" → "),
                steps.join(", ")
            ));
        }
    }
    for (i, (folder, members)) in KNOWN_CIRCLES.iter().enumerate() {
        if !seen_known.contains(&i) {
            problems.push(format!(
                "src/{folder}: the known circle {members:?} is gone: drop it from KNOWN_CIRCLES"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The scan really read the tree: edges every build has are seen.
    for (folder, from, to) in [("engine", "machine", "table"), ("", "engine", "config")] {
        assert!(
            graphs
                .get(folder)
                .is_some_and(|e| e.contains_key(&(from.to_string(), to.to_string()))),
            "the scan did not see {folder}/{from} import {to}"
        );
    }
}

#[test]
fn the_circle_scanner_finds_a_circle_through_groups_and_paths() {
    let file = |path: &str, code: &str| {
        let module: Vec<String> = path.split('/').map(str::to_string).collect();
        (module, format!("src/{path}.rs"), code.to_string())
    };
    let files = vec![
        file("shop", "pub mod till;"),
        // till → drawer, through a nested group.
        file("shop/till", "use super::{drawer::{Coin, Note}, log};"),
        // drawer → safe, through a path in code, not a `use`.
        file("shop/drawer", "fn f() { crate::shop::safe::lock(); }"),
        // safe → till closes the circle, through `super::super` from the
        // folder of `safe`.
        file("shop/safe", "pub mod dial;"),
        file("shop/safe/dial", "use super::super::till::Till;"),
        // A file that only reaches the circle is not in it.
        file("shop/door", "use super::till;"),
        // A mention in a comment, a string or a unit test is no import.
        file(
            "shop/log",
            "// super::door\nconst S: &str = \"super::door\";\n\
             #[cfg(test)]\nmod tests { use super::super::door::Door; }",
        ),
    ];
    let graphs = folder_graphs(&files);
    let shop = &graphs["shop"];
    let found = circles(shop);
    assert_eq!(found.len(), 1, "{found:?}");
    let (way, members) = &found[0];
    assert_eq!(members, &["drawer", "safe", "till"]);
    assert_eq!(way.first(), way.last());
    assert_eq!(way.len(), 4, "{way:?}");
    assert!(!shop.keys().any(|(from, _)| from == "log"), "{shop:?}");
}
