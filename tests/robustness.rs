//! `flashc check` never panics and always answers within bounds, whatever the input:
//! arbitrary bytes, mutations of a valid file, and hostile YAML.

use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../examples/hello/flash.yaml");

fn assert_well_formed(bytes: &[u8]) {
    let diagnostics = flashc::check(bytes, None).expect("no --env given");
    let text = String::from_utf8_lossy(bytes);
    // Lines as YAML counts them (`\r\n`, `\r` and `\n` each end one); a position is on one.
    let lines = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .count()
        .max(1) as u32;
    for d in &diagnostics {
        assert!(
            d.span.start.line >= 1 && d.span.start.line <= lines,
            "{d:?} outside {lines} lines"
        );
        assert!(d.span.start <= d.span.end, "{d:?}");
        assert!(!d.message.is_empty());
    }
    assert!(
        diagnostics.windows(2).all(|w| w[0].span <= w[1].span),
        "not sorted by position: {diagnostics:#?}"
    );
    // Rendering must not panic either, in every format.
    let source = flashc::render::SourceFile::new("f.yaml", &text);
    let _ = flashc::render::human(&source, &diagnostics, false);
    let _ = flashc::render::sarif(&source, &diagnostics);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        assert_well_formed(&bytes);
    }

    #[test]
    fn mutated_example(edits in proptest::collection::vec((0usize..2000, any::<u8>()), 1..8)) {
        let mut bytes = EXAMPLE.as_bytes().to_vec();
        for (at, byte) in edits {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        assert_well_formed(&bytes);
    }

    #[test]
    fn spliced_lines(cut in 0usize..40, take in 0usize..40) {
        let lines: Vec<&str> = EXAMPLE.lines().collect();
        let mut spliced = lines.clone();
        let cut = cut % lines.len();
        spliced.insert(cut, lines[take % lines.len()]);
        assert_well_formed(spliced.join("\n").as_bytes());
    }
}

#[test]
fn hostile_yaml_is_refused_quickly() {
    let started = std::time::Instant::now();
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb += &format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        );
    }
    let inputs: Vec<Vec<u8>> = vec![
        bomb.into_bytes(),
        "[".repeat(100_000).into_bytes(),
        "{a: ".repeat(50_000).into_bytes(),
        "- ".repeat(100_000).into_bytes(),
        vec![b'a'; 9 << 20],
        vec![0xff, 0xfe, 0x00, 0x41],
    ];
    for input in inputs {
        let diagnostics = flashc::check(&input, None).expect("no --env given");
        assert!(!diagnostics.is_empty());
    }
    // Generous: the point is "bounded", not a benchmark (see benches/ for speed).
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// The same file with LF, CRLF or CR line breaks, with and without a final newline: every
/// diagnostic has the same position, and the human snippet shows the line at that position.
#[test]
fn positions_and_snippets_agree_on_every_line_break() {
    let files = [
        // An unknown key on the last line.
        "version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    handler: a::b\n    worker: 3",
        // An unclosed bracket that runs to the end of the file.
        "version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    handler: a::b\n    gpu: [ADA_24",
        // A value missing at the end of the file.
        "version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    handler: a::b\n    gpu:",
        // An unclosed quote.
        "version: 1\nname: \"demo\nendpoints:\n  api:\n    type: queue",
    ];
    for file in files {
        let mut seen: Option<Vec<(u32, u32)>> = None;
        for newline in ["\n", "\r\n", "\r"] {
            for final_newline in [false, true] {
                let mut text = file.replace('\n', newline);
                if final_newline {
                    text.push_str(newline);
                }
                let diagnostics = flashc::check(text.as_bytes(), None).expect("no --env");
                assert!(!diagnostics.is_empty(), "{text:?}");
                let positions: Vec<(u32, u32)> = diagnostics
                    .iter()
                    .map(|d| (d.span.start.line, d.span.start.col))
                    .collect();
                match &seen {
                    None => seen = Some(positions.clone()),
                    Some(first) => assert_eq!(first, &positions, "{text:?}"),
                }
                let source = flashc::render::SourceFile::new("f.yaml", &text);
                let human = flashc::render::human(&source, &diagnostics, false);
                for (line, _) in positions {
                    let expected = file
                        .lines()
                        .nth(line as usize - 1)
                        .expect("a line of the file");
                    assert!(
                        human.contains(&format!("{line} | {expected}\n")),
                        "{text:?}: line {line} not shown as {expected:?}:\n{human}"
                    );
                }
            }
        }
    }
}

/// The inputs issue 8 measured as slow (quadratic stages, echoed values, unbounded output),
/// at a size a debug build checks in well under a second each when every stage is linear.
fn hostile_generated() -> Vec<(&'static str, String)> {
    let head = "version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    handler: a::b\n";
    let lb = "version: 1\nname: demo\nendpoints:\n  api:\n    type: load_balanced\n    routes:\n";
    let n = 20_000;
    vec![
        (
            "duplicate system_dependencies",
            format!(
                "{head}    system_dependencies:\n{}",
                (0..n)
                    .map(|i| format!("      - pkg{}\n", i % (n / 2)))
                    .collect::<String>()
            ),
        ),
        (
            "many routes",
            format!(
                "{lb}{}",
                (0..n)
                    .map(|i| format!("      \"GET /r{}/{{p{i}}}\": a::b\n", i / 2))
                    .collect::<String>()
            ),
        ),
        (
            "environments naming unknown endpoints",
            format!(
                "{head}environments:\n{}",
                (0..n / 4)
                    .map(|i| format!("  e{i}:\n    endpoints:\n      nope{i}: {{workers: 2}}\n"))
                    .collect::<String>()
            ),
        ),
        (
            "a 1 MB gpu value",
            format!("{head}    gpu: {}\n", "A".repeat(1 << 20)),
        ),
        (
            "many unknown keys in one endpoint",
            format!(
                "{head}{}",
                (0..n).map(|i| format!("    k{i}: 1\n")).collect::<String>()
            ),
        ),
        (
            "many endpoints with an unknown key each",
            format!(
                "version: 1\nname: demo\nendpoints:\n{}",
                (0..n / 2)
                    .map(|i| format!(
                        "  e{i}:\n    type: queue\n    handler: a::b\n    worker: 1\n"
                    ))
                    .collect::<String>()
            ),
        ),
        (
            "many diagnostics on one line",
            format!("{head}    gpu: [{}]\n", vec!["X"; n].join(", ")),
        ),
    ]
}

#[test]
fn hostile_generated_inputs_are_linear_and_bounded() {
    for (name, input) in hostile_generated() {
        let started = std::time::Instant::now();
        let diagnostics = flashc::check(input.as_bytes(), None).expect("no --env given");
        assert!(!diagnostics.is_empty(), "{name}: no diagnostic");
        for d in &diagnostics {
            assert!(
                d.message.len() < 1_000,
                "{name}: message not shortened: {}",
                d.message.len()
            );
        }
        let source = flashc::render::SourceFile::new("f.yaml", &input);
        let outputs = [
            flashc::render::human(&source, &diagnostics, false),
            flashc::render::json(&source, &diagnostics),
            flashc::render::github(&source, &diagnostics),
            flashc::render::sarif(&source, &diagnostics),
        ];
        for output in outputs {
            // The report is capped: a few hundred diagnostics, each a few lines.
            assert!(
                output.len() < 4 << 20,
                "{name}: {} bytes of output",
                output.len()
            );
        }
        // Generous for a debug build on a shared machine; quadratic stages took minutes.
        let elapsed = started.elapsed();
        assert!(
            elapsed < std::time::Duration::from_secs(15),
            "{name}: {elapsed:?}"
        );
    }
}

/// The handler crate of `examples/hello`, read from disk (what `cargo metadata` would say).
struct HelloCrate;

impl flashc::resolve::Workspace for HelloCrate {
    fn locate_crate(
        &self,
        _dir: &std::path::Path,
    ) -> Result<flashc::resolve::CrateInfo, flashc::resolve::CrateError> {
        let dir = std::fs::canonicalize("examples/hello").unwrap();
        Ok(flashc::resolve::CrateInfo {
            package: "hello".into(),
            lib_name: "hello".into(),
            lib_path: dir.join("src/lib.rs"),
            manifest_dir: dir,
            build_script: None,
            edition: "2021".into(),
            features: Vec::new(),
        })
    }

    fn read(&self, path: &std::path::Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

/// Issue 19 item 7: every value `check` accepts must lower. Numbers at the edges of what YAML,
/// the loader (64-bit integers, floats past them) and the model's types (u32, u64, milliseconds
/// from seconds) can carry, in every numeric key of the hello example.
#[test]
fn every_number_check_accepts_lowers() {
    let base = std::fs::read_to_string("examples/hello/flash.yaml").unwrap();
    let values = [
        "0",
        "1",
        "4294967295",
        "4294967296",
        "9007199254740991",
        "9007199254740992",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "1e300",
        "1.0e16",
        "9.0e15",
        "-1",
        "1.5",
        "60.0",
        "18446744073709551h",
        "5000000000000h",
        ".inf",
    ];
    let places = [
        ("execution_timeout: 10m", "execution_timeout: {}"),
        ("timeout: 30s", "timeout: {}"),
        ("idle_timeout: 60", "idle_timeout: {}"),
        ("retries: 2", "retries: {}"),
        ("max_concurrency: 4", "max_concurrency: {}"),
        ("workers: [0, 3]", "workers: [0, {}]"),
        ("workers: [1, 10]", "workers: {}"),
    ];
    let overrides = std::collections::BTreeMap::new();
    let options = flashc::emit::Options {
        out_dir: ".flash",
        flashc_version: "0",
        overrides: &overrides,
    };
    let mut failures = Vec::new();
    for (place, pattern) in places {
        assert!(base.contains(place), "{place}");
        for value in values {
            let yaml = base.replace(place, &pattern.replace("{}", value));
            let accepted = !flashc::check(yaml.as_bytes(), None)
                .unwrap()
                .iter()
                .any(|d| d.severity == flashc::diagnostic::Severity::Error);
            if !accepted {
                continue;
            }
            for env in [None, Some("production")] {
                if let Err(flashc::GenerateError::Internal(message)) =
                    flashc::generate(yaml.as_bytes(), env, &HelloCrate, &options)
                {
                    failures.push(format!("{place} → {value} ({env:?}): {message}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "check accepted, lowering failed:\n{}",
        failures.join("\n")
    );
}

/// Issue 19 item 8: `flashc dev`'s host includes each worker as a module of its crate root,
/// which names `std` and `flash_runtime` (and depends on the handler crate): an endpoint named
/// after one of them must not shadow it.
#[test]
fn dev_host_modules_never_shadow_a_crate() {
    let yaml = std::fs::read_to_string("examples/hello/flash.yaml")
        .unwrap()
        .replace("  embed:\n", "  std:\n")
        .replace("  api:\n", "  flash-runtime:\n")
        .replace("      embed:\n", "      std:\n");
    let overrides = std::collections::BTreeMap::new();
    let options = flashc::emit::Options {
        out_dir: ".flash",
        flashc_version: "0",
        overrides: &overrides,
    };
    let generated = match flashc::generate(yaml.as_bytes(), None, &HelloCrate, &options) {
        Ok(g) => g,
        Err(flashc::GenerateError::Problems(d)) => panic!("{d:?}"),
        Err(_) => panic!("generate failed"),
    };
    let files = flashc::emit::emit_dev(&generated.plan, &options).unwrap();
    let main = files
        .iter()
        .find(|f| f.path.ends_with("dev/src/main.rs"))
        .unwrap();
    for shadowing in ["mod std;", "mod flash_runtime;", "mod hello;", "mod core;"] {
        assert!(
            !main.contents.contains(shadowing),
            "{shadowing}\n{}",
            main.contents
        );
    }
}

/// Issue 19 item 20: an endpoint named like its project has an image named like the project
/// (`hello`, not `hello-hello`); its worker crate keeps the unique package name.
#[test]
fn an_endpoint_named_like_its_project_is_not_named_twice() {
    let yaml = std::fs::read_to_string("examples/hello/flash.yaml")
        .unwrap()
        .replace("  api:\n", "  hello:\n");
    let overrides = std::collections::BTreeMap::new();
    let options = flashc::emit::Options {
        out_dir: ".flash",
        flashc_version: "0",
        overrides: &overrides,
    };
    let Ok(generated) = flashc::generate(yaml.as_bytes(), None, &HelloCrate, &options) else {
        panic!("generate failed");
    };
    let endpoint = generated
        .plan
        .endpoints
        .iter()
        .find(|e| e.name == "hello")
        .unwrap();
    assert_eq!(endpoint.image, "hello");
    assert_eq!(endpoint.package, "hello-hello");
    let dockerfile = generated
        .files
        .iter()
        .find(|f| f.path == ".flash/workers/hello/Dockerfile")
        .unwrap();
    assert!(
        dockerfile.contents.contains("-t hello ."),
        "{}",
        dockerfile.contents
    );
}
