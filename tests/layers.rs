//! The layers only reach down. Every top-level module of `src/` may name
//! only the modules its row of [`ALLOWED`] lists (through `crate::`, in
//! code; documentation links are not imports), so `config`, `spread`,
//! `net` and `membership` never import one another, the pure `engine`
//! never imports the logging facade or a transport, and what several
//! layers share lives in `base`, which imports nothing. `daemon`, `app`,
//! `cli` and `main` are the wiring and may import anything.

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
                "src/{module} is a module no layer row names: add it to ALLOWED in tests/layers.rs \
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
