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

/// The crate modules that `code` names through `crate::` (in `use` lines,
/// paths and `crate::{a, b::c}` groups). The `log_*!` macros count as the
/// `log` module; `$crate::` inside macro definitions names the macro's own
/// module and is skipped.
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let preceded_by_dollar = rest[..at].ends_with('$');
            let after = &rest[at + "crate::".len()..];
            rest = after;
            if preceded_by_dollar {
                continue;
            }
            let names: Vec<&str> = match after.strip_prefix('{') {
                Some(group) => {
                    let group = &group[..group.find('}').unwrap_or(group.len())];
                    group.split(',').map(str::trim).collect()
                }
                None => vec![after],
            };
            for name in names {
                let ident: String = name
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if ident.is_empty() {
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
    }
    found
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
