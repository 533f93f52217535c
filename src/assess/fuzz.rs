//! Property tests over hostile packs (issue 15): the pack reader, the assessment and every report
//! renderer, run over the organisation sample with its answers mutated (re-chained, so the
//! assessment reads them) and with its files damaged (not re-chained, so the reader must refuse
//! them). Whatever the mutation, nothing panics, and a pack that opens is assessed and rendered or
//! refused with an error. `PROPTEST_CASES` sets the number of cases (default 32 each, about 20 s).

use super::tests::{variant_of, Edit};
use super::*;
use crate::report::{render, Format};
use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;

fn org_sample() -> Pack {
    Pack::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-org-2026-Q4")).unwrap()
}

/// A value a hostile answer could hold where the real one has something else.
#[derive(Debug, Clone)]
enum Hostile {
    Null,
    Bool(bool),
    Number(i64),
    Float(f64),
    Text(String),
    Long(usize),
    EmptyArray,
    EmptyObject,
    Nested(usize),
}

impl Hostile {
    fn value(&self) -> Value {
        match self {
            Hostile::Null => Value::Null,
            Hostile::Bool(b) => Value::Bool(*b),
            Hostile::Number(n) => Value::from(*n),
            Hostile::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            Hostile::Text(s) => Value::String(s.clone()),
            Hostile::Long(n) => Value::String("\u{202e}=A\u{1b}".repeat(*n)),
            Hostile::EmptyArray => Value::Array(Vec::new()),
            Hostile::EmptyObject => Value::Object(Default::default()),
            Hostile::Nested(depth) => {
                (0..*depth).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
            }
        }
    }
}

/// What happens to one answer.
#[derive(Debug, Clone)]
enum Mutation {
    /// The `at`-th JSON node (depth first, wrapping) replaced.
    Replace { at: usize, with: Hostile },
    /// The `at`-th member of an object removed.
    Remove { at: usize },
    /// One byte changed.
    Flip { at: usize, to: u8 },
    /// Only the first `keep` bytes kept.
    Truncate { keep: usize },
    /// Another HTTP status, the body unchanged.
    Status(u16),
}

fn hostile() -> impl Strategy<Value = Hostile> {
    prop_oneof![
        Just(Hostile::Null),
        any::<bool>().prop_map(Hostile::Bool),
        any::<i64>().prop_map(Hostile::Number),
        any::<f64>().prop_map(Hostile::Float),
        "\\PC{0,12}".prop_map(Hostile::Text),
        Just(Hostile::Text(
            "arn:aws:kms:us-east-1:311141592653:key/x".into()
        )),
        Just(Hostile::Text("*".into())),
        (1usize..2_000).prop_map(Hostile::Long),
        Just(Hostile::EmptyArray),
        Just(Hostile::EmptyObject),
        (1usize..64).prop_map(Hostile::Nested),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), hostile()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        2 => any::<usize>().prop_map(|at| Mutation::Remove { at }),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, to)| Mutation::Flip { at, to }),
        1 => any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
        1 => prop_oneof![Just(200u16), Just(204), Just(400), Just(403), Just(404), Just(500)]
            .prop_map(Mutation::Status),
    ]
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replaces the `at`-th node (wrapping) of `value`.
fn replace_node(value: &mut Value, at: usize, with: Value) {
    let mut n = at % count_nodes(value);
    let mut stack = vec![&mut *value];
    while let Some(node) = stack.pop() {
        if n == 0 {
            *node = with;
            return;
        }
        n -= 1;
        match node {
            Value::Array(items) => stack.extend(items.iter_mut().rev()),
            Value::Object(map) => {
                let values: Vec<&mut Value> = map.values_mut().collect();
                stack.extend(values.into_iter().rev());
            }
            _ => {}
        }
    }
}

/// Removes the `at`-th object member (wrapping) of `value`, if it has any.
fn remove_member(value: &mut Value, at: usize) {
    fn members(value: &Value) -> usize {
        match value {
            Value::Array(items) => items.iter().map(members).sum(),
            Value::Object(map) => map.len() + map.values().map(members).sum::<usize>(),
            _ => 0,
        }
    }
    fn remove(value: &mut Value, n: &mut usize) -> bool {
        match value {
            Value::Array(items) => items.iter_mut().any(|v| remove(v, n)),
            Value::Object(map) => {
                if *n < map.len() {
                    let key = map.keys().nth(*n).cloned().unwrap_or_default();
                    map.remove(&key);
                    return true;
                }
                *n -= map.len();
                map.values_mut().any(|v| remove(v, n))
            }
            _ => false,
        }
    }
    let total = members(value);
    if total > 0 {
        remove(value, &mut (at % total));
    }
}

/// The answer after `mutation`: (status, body).
fn mutate(status: u16, body: &[u8], mutation: &Mutation) -> (u16, Vec<u8>) {
    let json = || serde_json::from_slice::<Value>(body).ok();
    match mutation {
        Mutation::Replace { at, with } => match json() {
            Some(mut v) => {
                replace_node(&mut v, *at, with.value());
                (status, serde_json::to_vec(&v).unwrap())
            }
            None => (status, body.to_vec()),
        },
        Mutation::Remove { at } => match json() {
            Some(mut v) => {
                remove_member(&mut v, *at);
                (status, serde_json::to_vec(&v).unwrap())
            }
            None => (status, body.to_vec()),
        },
        Mutation::Flip { at, to } => {
            let mut bytes = body.to_vec();
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = *to;
            }
            (status, bytes)
        }
        Mutation::Truncate { keep } => (status, body[..keep % (body.len() + 1)].to_vec()),
        Mutation::Status(s) => (*s, body.to_vec()),
    }
}

/// Assesses and renders every format; any outcome but a panic is acceptable.
fn assess_and_render(pack: &Pack) {
    let _ = pack.body_problems();
    if let Ok(a) = assess(pack) {
        for format in Format::ALL {
            let _ = render(&a, None, format);
        }
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(32),
        // Shrinking re-runs the whole pipeline many times; the failing case is printed as is.
        max_shrink_iters: 16,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Answers mutated and the pack re-chained as collect would write it: the assessment reads them.
    #[test]
    fn mutated_answers_never_panic(
        edits in prop::collection::vec((any::<usize>(), mutation()), 1..6)
    ) {
        let source = org_sample();
        let records = source.len() as u64;
        let picks: std::collections::BTreeMap<u64, Mutation> = edits
            .into_iter()
            .map(|(at, m)| (at as u64 % records + 1, m))
            .collect();
        let (_dir, pack) = variant_of(&source, |entry, body| match picks.get(&entry.seq) {
            Some(m) => {
                let (status, body) = mutate(entry.http_status.unwrap_or(200), body, m);
                Edit::Replace {
                    status,
                    body,
                    error_code: entry
                        .error_code
                        .as_deref()
                        .map(|c| &*Box::leak(c.to_string().into_boxed_str())),
                }
            }
            None => Edit::Keep,
        });
        assess_and_render(&pack);
    }

    /// The pack's own files damaged without re-chaining: the reader refuses or the checks catch it.
    #[test]
    fn damaged_pack_files_never_panic(
        file in prop_oneof![Just("pack.json"), Just("index.jsonl")],
        mutation in mutation(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-org-2026-Q4");
        let copy = dir.path().join("pack");
        copy_tree(&source, &copy);
        let path = copy.join(file);
        let bytes = std::fs::read(&path).unwrap();
        let changed = if file == "index.jsonl" {
            // One line of the index, as JSON.
            let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            let which = match &mutation {
                Mutation::Replace { at, .. } | Mutation::Remove { at } | Mutation::Flip { at, .. } => at % lines.len(),
                _ => 0,
            };
            let mut out = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                if i == which {
                    out.extend(mutate(200, line, &mutation).1);
                } else {
                    out.extend_from_slice(line);
                }
            }
            out
        } else {
            mutate(200, &bytes, &mutation).1
        };
        std::fs::write(&path, changed).unwrap();
        if let Ok(pack) = Pack::open(&copy) {
            let _ = pack.record_problems();
            assess_and_render(&pack);
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
