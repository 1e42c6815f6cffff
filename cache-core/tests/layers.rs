//! The layers of `cache-core/src` (the workspace's DESIGN.md, "Layers of the runtime"): a module
//! imports only from its own layer or lower ones, and imports never go round in a circle, neither
//! among the top-level modules nor among the files of a folder. This reads the source with `std`
//! alone; the checker's own tests, on small sources, are at the bottom.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// The top-level modules (a file `x.rs` or a folder `x/` is module `x`), lowest layer first.
const LAYERS: [(&str, &[&str]); 8] = [
    (
        "primitives",
        &["error", "bounds", "config", "key", "clock", "context"],
    ),
    ("storage contract", &["backend"]),
    (
        "services",
        &[
            "stats",
            "flight",
            "registry",
            "telemetry",
            "codec",
            "blocking",
        ],
    ),
    ("isolation", &["sandbox"]),
    ("backends", &["memory", "redis", "disk", "tiered"]),
    ("the handle", &["cache"]),
    ("macro support", &["memo", "module"]),
    ("re-exports", &["__private", "lib"]),
];

fn layer(module: &str) -> Option<(usize, &'static str)> {
    let n = LAYERS.iter().position(|(_, ms)| ms.contains(&module))?;
    Some((n, LAYERS[n].0))
}

/// `x.rs` and `x/mod.rs` are module [x], `x/a.rs` is [x, a], `lib.rs` is [].
fn module(file: &str) -> Vec<String> {
    let mut m: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(Into::into)
        .collect();
    if m.last().is_some_and(|s| s == "mod") || m == ["lib"] {
        m.pop();
    }
    m
}

/// The tokens of a file's code with their lines: identifiers (`$crate` is `crate`), `::` and
/// single punctuation. Comments and string literals are not code, and neither are tests: files
/// named `tests.rs` or `*_tests.rs`, and everything from an unindented `#[cfg(test)]` (or
/// `#[cfg(all(test, ...))]`) line on, except that before `mod x;` it skips just the two lines.
fn tokens(file: &str, text: &str) -> Vec<(String, usize)> {
    let name = file.rsplit('/').next().unwrap_or(file);
    if name == "tests.rs" || name.ends_with("_tests.rs") {
        return vec![];
    }
    let (lines, mut out, mut skip) = (text.lines().collect::<Vec<_>>(), Vec::new(), false);
    for (n, line) in lines.iter().enumerate() {
        if std::mem::take(&mut skip) {
            continue;
        }
        if line.starts_with("#[cfg(test)]") || line.starts_with("#[cfg(all(test") {
            match lines.get(n + 1) {
                Some(next) if next.starts_with("mod ") && next.ends_with(';') => skip = true,
                _ => break,
            }
            continue;
        }
        let (mut code, mut quoted, mut escaped) = (String::new(), false, false);
        for (i, c) in line.char_indices() {
            if quoted {
                (quoted, escaped) = (escaped || c != '"', !escaped && c == '\\');
            } else if line[i..].starts_with("//") {
                break;
            } else {
                quoted = c == '"';
                code.push(if quoted { ' ' } else { c });
            }
        }
        let mut rest = code.as_str();
        while let Some(c) = rest.chars().next() {
            let len = match c {
                c if c.is_alphanumeric() || c == '_' => rest
                    .find(|c: char| !c.is_alphanumeric() && c != '_')
                    .unwrap_or(rest.len()),
                ':' if rest.starts_with("::") => 2,
                c => c.len_utf8(),
            };
            if !c.is_whitespace() && c != '$' {
                out.push((rest[..len].to_string(), n + 1));
            }
            rest = &rest[len..];
        }
    }
    out
}

/// The paths named by the use tree or inline path at `t[*i]`, groups expanded, each with the
/// line of its last segment.
fn paths(t: &[(String, usize)], i: &mut usize) -> Vec<(Vec<String>, usize)> {
    let tok = |i: usize| t.get(i).map_or("", |(s, _)| s.as_str());
    if tok(*i) == "{" {
        let mut out = Vec::new();
        while !matches!(tok(*i), "}" | "") {
            *i += 1;
            if tok(*i) != "}" {
                out.extend(paths(t, i));
            }
        }
        *i += 1;
        return out;
    }
    let (seg, line) = t.get(*i).cloned().unwrap_or_default();
    if !(seg.starts_with(|c: char| c.is_alphabetic() || c == '_') || seg == "*") {
        return vec![(vec![], line)];
    }
    *i += if tok(*i + 1) == "as" { 3 } else { 1 };
    if tok(*i) != "::" {
        return vec![(vec![seg], line)];
    }
    *i += 1;
    let mut out = paths(t, i);
    out.iter_mut().for_each(|(p, _)| p.insert(0, seg.clone()));
    out
}

/// A folder's module path -> its children (files and subfolders), `[]` being the crate root.
type Children = BTreeMap<Vec<String>, BTreeSet<String>>;

/// A path of the crate written in a file: the module it is written in, the module path it
/// names, where (`file:line \`path\``), and whether it is a `pub use` in a `mod.rs` (or
/// `lib.rs`), which lists the folder's children rather than importing them.
struct Import {
    from: Vec<String>,
    to: Vec<String>,
    at: String,
    listing: bool,
}

fn imports(file: &str, text: &str, children: &Children) -> Vec<Import> {
    let (m, t, mut out) = (module(file), tokens(file, text), Vec::new());
    let mut i = 0;
    while i < t.len() {
        let start = i;
        let after = |s: &str| start > 0 && t[start - 1].0 == s;
        if after("::") || after(".") || t.get(start + 1).is_none_or(|(s, _)| s != "::") {
            i += 1;
            continue;
        }
        let public = start > 1 && matches!(t[start - 2].0.as_str(), "pub" | ")");
        let listing = after("use") && public && (file.ends_with("mod.rs") || file == "lib.rs");
        for (path, line) in paths(&t, &mut i) {
            let (mut to, mut rest) = (m.clone(), &path[..]);
            match rest.first().map_or("", String::as_str) {
                "crate" => (to, rest) = (vec![], &rest[1..]),
                "self" | "super" => {
                    while let Some(s) = rest.first().filter(|s| *s == "self" || *s == "super") {
                        to.truncate(to.len() - usize::from(s == "super").min(to.len()));
                        rest = &rest[1..];
                    }
                }
                // A child named bare, in the `mod.rs` (or `lib.rs`) that declares it.
                head if file.ends_with("mod.rs") || file == "lib.rs" => {
                    if !children.get(&m).is_some_and(|kids| kids.contains(head)) {
                        continue;
                    }
                }
                _ => continue,
            }
            to.extend(rest.iter().filter(|s| *s != "self").cloned());
            let shown = path.strip_suffix(&["self".to_string()]).unwrap_or(&path);
            let at = format!("{file}:{line} `{}`", shown.join("::"));
            out.push(Import {
                from: m.clone(),
                to,
                at,
                listing,
            });
        }
        i = i.max(start + 1);
    }
    out
}

/// The name at depth `k` of path `p` if it is one of `names`, else `other`.
fn name_in<'a>(p: &'a [String], k: usize, names: &BTreeSet<String>, other: &'a str) -> &'a str {
    p.get(k)
        .filter(|s| names.contains(*s))
        .map_or(other, String::as_str)
}

/// Imports between modules: (from, to) -> where each is written.
type Graph = BTreeMap<(String, String), Vec<String>>;

/// Every layering violation in `sources` (paths relative to `src`, with `/`), one message each.
fn check(sources: &[(&str, &str)]) -> Vec<String> {
    let mut children = Children::new();
    for m in sources.iter().map(|(file, _)| module(file)) {
        for k in 0..m.len() {
            children
                .entry(m[..k].to_vec())
                .or_default()
                .insert(m[k].clone());
        }
    }
    let top = children.get(&vec![]).cloned().unwrap_or_default();
    let (mut modules, mut folders) = (Graph::new(), BTreeMap::<String, Graph>::new());
    let all = sources
        .iter()
        .flat_map(|(file, text)| imports(file, text, &children));
    for Import {
        from,
        to,
        at,
        listing,
    } in all
    {
        // The top-level modules; an item of the crate root (a re-export) is in `lib`.
        let (a, b) = (name_in(&from, 0, &top, "lib"), name_in(&to, 0, &top, "lib"));
        if a != b && a != "lib" && !to.is_empty() {
            modules
                .entry((a.into(), b.into()))
                .or_default()
                .push(at.clone());
        }
        for k in 1..=from.len() {
            let Some(kids) = children
                .get(&from[..k])
                .filter(|_| to.starts_with(&from[..k]))
            else {
                continue;
            };
            // The children; an item of the folder's `mod.rs` is in `mod`.
            let (a, b) = (name_in(&from, k, kids, "mod"), name_in(&to, k, kids, "mod"));
            if a != b && !(listing && a == "mod") {
                let folder = folders.entry(from[..k].join("/")).or_default();
                folder
                    .entry((a.into(), b.into()))
                    .or_default()
                    .push(at.clone());
            }
        }
    }
    let mut errors: Vec<String> = (top.iter().filter(|m| layer(m).is_none()))
        .map(|m| format!("top-level module `{m}` has no layer: give it a layer in LAYERS"))
        .collect();
    for ((from, to), places) in &modules {
        let (Some((lf, nf)), Some((lt, nt))) = (layer(from), layer(to)) else {
            continue;
        };
        let (to, hint) = match to.as_str() {
            "lib" => ("the crate root", "; import from the defining module"),
            to => (to, ""),
        };
        for place in places.iter().filter(|_| lt > lf) {
            errors.push(format!(
                "{place}: {from} (layer {lf}, {nf}) imports {to} (layer {lt}, {nt}){hint}"
            ));
        }
    }
    // lib.rs is the crate's listing; an import of it is already an error above.
    modules.retain(|(a, b), _| a != "lib" && b != "lib");
    errors.extend(
        cycles(&modules)
            .iter()
            .map(|c| format!("cycle among top-level modules: {c}")),
    );
    for (folder, edges) in &folders {
        errors.extend(
            cycles(edges)
                .iter()
                .map(|c| format!("cycle in {folder}/: {c}")),
        );
    }
    errors
}

/// The shortest cycle through each module on one, each cycle once, with the first place each
/// of its imports is written.
fn cycles(edges: &Graph) -> Vec<String> {
    let (mut seen, mut out) = (BTreeSet::new(), Vec::new());
    for start in edges.keys().map(|(a, _)| a).collect::<BTreeSet<_>>() {
        let (mut parent, mut queue, mut last) = (BTreeMap::new(), VecDeque::from([start]), None);
        while let (Some(n), None) = (queue.pop_front(), last) {
            for (_, b) in edges.keys().filter(|(a, _)| a == n) {
                if b == start {
                    last = Some(n);
                } else if !parent.contains_key(b) {
                    parent.insert(b, n);
                    queue.push_back(b);
                }
            }
        }
        let Some(mut n) = last else { continue };
        let mut cycle = vec![n];
        while n != start {
            n = parent[n];
            cycle.push(n);
        }
        cycle.reverse();
        let lowest = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
        cycle.rotate_left(lowest);
        if seen.insert(cycle.clone()) {
            let next = |i: usize| cycle[(i + 1) % cycle.len()];
            let at: Vec<_> = (0..cycle.len())
                .map(|i| edges[&(cycle[i].clone(), next(i).clone())][0].as_str())
                .collect();
            let names: Vec<_> = cycle
                .iter()
                .chain([&cycle[0]])
                .map(|s| s.as_str())
                .collect();
            out.push(format!("{} ({})", names.join(" -> "), at.join("; ")));
        }
    }
    out
}

fn read_tree(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.map(|e| e.expect("a directory entry")) {
        let (path, name) = (
            entry.path(),
            entry.file_name().to_string_lossy().into_owned(),
        );
        if path.is_dir() {
            read_tree(&path, &format!("{prefix}{name}/"), out);
        } else if name.ends_with(".rs") {
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            out.push((format!("{prefix}{name}"), text));
        }
    }
}

#[test]

fn cache_core_imports_only_look_down() {
    let mut files = Vec::new();
    read_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        "",
        &mut files,
    );
    let sources: Vec<_> = files
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    let errors = check(&sources);
    let list = errors.join("\n");
    assert!(
        errors.is_empty(),
        "{} layering violations in cache-core/src:\n{list}",
        errors.len()
    );
}

#[test]
fn the_checker_passes_downward_imports_comments_strings_and_tests() {
    let src = [
        ("lib.rs", "mod key;\nmod cache;\npub use cache::Cache;\n"),
        (
            "key.rs",
            "//! Used by [`crate::cache::Cache`].\n/// See crate::Cache.\npub struct Key;\n",
        ),
        (
            "cache.rs",
            "use crate::{key::Key, clock};\nfn f() { crate::key::g(\"crate::memo\") }\n",
        ),
        (
            "clock.rs",
            "#[cfg(test)]\nmod tests { use crate::cache::Cache; }\n",
        ),
        ("cache/tests.rs", "use crate::memo::Memo;\n"),
    ];
    assert_eq!(check(&src), Vec::<String>::new());
}

#[test]
fn the_checker_reports_upward_imports_and_the_crate_root() {
    let key = "#[cfg(test)]\nmod tests;\nuse crate::{\n    clock::{self, Clock as _},\n    \
               cache::Cache,\n};\nfn f() -> u64 {\n    crate::caches().len() // crate::memo\n}\n";
    let errors = check(&[("key.rs", key), ("cache.rs", ""), ("clock.rs", "")]);
    assert_eq!(
        errors,
        [
            "key.rs:5 `crate::cache::Cache`: key (layer 0, primitives) imports cache (layer 5, \
             the handle)",
            "key.rs:8 `crate::caches`: key (layer 0, primitives) imports the crate root (layer 7, \
             re-exports); import from the defining module",
        ]
    );
}

#[test]
fn the_checker_reports_cycles_and_unlayered_modules() {
    let src = [
        ("stats.rs", "use crate::flight::Flight;\n"),
        ("flight.rs", "pub(crate) fn f() { crate::stats::g() }\n"),
        ("gadget.rs", ""),
        (
            "redis/mod.rs",
            "mod backend;\nmod ops;\npub use backend::RedisBackend;\nconst KIND: &str = \"redis\";\n",
        ),
        ("redis/backend.rs", "use super::{KIND, ops::get};\n"),
        ("redis/ops.rs", "use super::backend::RedisBackend;\n"),
    ];
    assert_eq!(
        check(&src),
        [
            "top-level module `gadget` has no layer: give it a layer in LAYERS",
            "cycle among top-level modules: flight -> stats -> flight (flight.rs:1 \
             `crate::stats::g`; stats.rs:1 `crate::flight::Flight`)",
            "cycle in redis/: backend -> ops -> backend (redis/backend.rs:1 `super::ops::get`; \
             redis/ops.rs:1 `super::backend::RedisBackend`)",
        ]
    );
}

#[test]
fn the_checker_counts_a_folder_listing_as_no_edge_but_other_uses_of_a_child() {
    let child = "use super::NEVER;\npub(crate) struct Shard;\n";
    let folder = |root| check(&[("memory/mod.rs", root), ("memory/shard.rs", child)]);
    let listing = "mod shard;\npub(crate) use shard::Shard;\nconst NEVER: u64 = u64::MAX;\n";
    assert_eq!(folder(listing), Vec::<String>::new());
    let using = "mod shard;\nconst NEVER: u64 = u64::MAX;\nfn f() { shard::Shard::new(); }\n";
    assert_eq!(
        folder(using),
        [
            "cycle in memory/: mod -> shard -> mod (memory/mod.rs:3 `shard::Shard::new`; \
          memory/shard.rs:1 `super::NEVER`)"
        ]
    );
}
