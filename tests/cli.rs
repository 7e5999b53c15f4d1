//! The command line as users and CI see it: exit codes, output formats, committed artifacts.

use std::process::{Command, Output};

fn flashc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flashc"))
        .args(args)
        .output()
        .expect("run flashc")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn exit_codes_are_the_documented_ones() {
    assert_eq!(
        flashc(&["check", "examples/hello/flash.yaml"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        flashc(&["check", "--no-crate", "tests/ui/check/workers.yaml"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(flashc(&["check", "--bogus"]).status.code(), Some(2));
    assert_eq!(
        flashc(&["check", "examples/hello/flash.yaml", "--env", "prod"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        flashc(&["check", "does/not/exist.yaml"]).status.code(),
        Some(3)
    );
    // Warnings pass unless denied.
    assert_eq!(
        flashc(&["check", "--no-crate", "tests/ui/check/plain_secret.yaml"])
            .status
            .code(),
        Some(0)
    );
    let denied = flashc(&[
        "check",
        "--no-crate",
        "tests/ui/check/plain_secret.yaml",
        "--deny",
        "warnings",
    ]);
    assert_eq!(denied.status.code(), Some(1));
}

#[test]
fn unknown_environment_suggests_the_nearest() {
    let output = flashc(&["check", "examples/hello/flash.yaml", "--env", "prodution"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did you mean `production`?"), "{stderr}");
}

#[test]
fn env_flag_checks_the_merged_result() {
    let file = "tests/ui/check/overlay_errors_located.yaml";
    let output = flashc(&[
        "check",
        "--no-crate",
        file,
        "--env",
        "production",
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let first = &report["diagnostics"][0];
    assert_eq!(first["code"], "FL0401");
    // The bad value is located in the overlay, where it was written.
    assert_eq!(first["line"], 10);
}

#[test]
fn json_output_is_the_documented_contract() {
    let output = flashc(&[
        "check",
        "--no-crate",
        "tests/ui/check/duplicate_route.yaml",
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let d = &report["diagnostics"][0];
    for key in [
        "code",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "label",
        "help",
        "related",
    ] {
        assert!(d.get(key).is_some(), "missing `{key}` in {d}");
    }
    assert_eq!(d["code"], "FL0208");
    assert_eq!(d["severity"], "error");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(8), Some(7))
    );
    assert_eq!(
        (d["end_line"].as_u64(), d["end_column"].as_u64()),
        (Some(8), Some(29))
    );
    assert_eq!(d["related"][0]["line"], 7);
    assert_eq!(report["summary"]["errors"], 2);
    assert_eq!(report["summary"]["warnings"], 0);
}

#[test]
fn github_format_annotates_with_positions() {
    let output = flashc(&[
        "check",
        "--no-crate",
        "tests/ui/check/unknown_key.yaml",
        "--format",
        "github",
    ]);
    let text = stdout(&output);
    assert!(
        text.starts_with("::error file=tests/ui/check/unknown_key.yaml,line=7,col=5,endLine=7,endColumn=11,title=FL0101::unknown key `worker`"),
        "{text}"
    );
    assert!(text.contains("%0Ahelp: did you mean `workers`?"), "{text}");
}

#[test]
fn sarif_format_is_sarif_2_1_0() {
    let output = flashc(&[
        "check",
        "--no-crate",
        "tests/ui/check/gpu_list.yaml",
        "--format",
        "sarif",
    ]);
    let log: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(log["version"], "2.1.0");
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "FL0304");
    assert_eq!(result["level"], "warning");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 7);
    let rule_index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"][rule_index]["id"],
        "FL0304"
    );
}

#[test]
fn human_output_is_rustc_like() {
    let output = flashc(&[
        "check",
        "--no-crate",
        "tests/ui/check/unknown_key.yaml",
        "--color",
        "never",
    ]);
    let text = stdout(&output);
    assert!(
        text.contains("error[FL0101]: unknown key `worker` in endpoint `api`"),
        "{text}"
    );
    assert!(
        text.contains(" --> tests/ui/check/unknown_key.yaml:7:5"),
        "{text}"
    );
    assert!(text.contains("^^^^^^ not a known key"), "{text}");
    assert!(text.contains("= help: did you mean `workers`?"), "{text}");
}

#[test]
fn explain_prints_rule_docs_and_rejects_unknown_codes() {
    let output = flashc(&["explain", "FL0208"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("/users/{user_id}"));
    // Where the rule's logic is, for whoever wants to change it.
    assert!(stdout(&output).contains("Source: src/rules/duplicate_route.rs"));
    assert!(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/rules/duplicate_route.rs")
        .is_file());
    let output = flashc(&["explain", "FL0209"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn committed_schema_is_fresh() {
    let committed = std::fs::read_to_string(flashc::schema::SCHEMA_PATH).unwrap_or_default();
    assert!(
        committed == flashc::schema::generate_text(),
        "schema/flash.schema.json is stale: run `cargo run -- schema > schema/flash.schema.json`"
    );
    assert_eq!(stdout(&flashc(&["schema"])), committed);
}

#[test]
fn committed_rules_doc_is_fresh() {
    let committed = std::fs::read_to_string("docs/rules.md").unwrap_or_default();
    assert!(
        committed == flashc::rules_markdown(),
        "docs/rules.md is stale: run `cargo run -- explain --all > docs/rules.md`"
    );
}

#[test]
fn schema_describes_every_property() {
    let schema = flashc::schema::generate();
    let mut missing = Vec::new();
    walk(&schema, "#", &mut missing);
    assert!(
        missing.is_empty(),
        "properties without a description: {missing:?}"
    );

    fn walk(value: &serde_json::Value, at: &str, missing: &mut Vec<String>) {
        if let Some(props) = value.get("properties").and_then(|p| p.as_object()) {
            assert_eq!(
                value.get("additionalProperties"),
                Some(&serde_json::Value::Bool(false)),
                "{at}"
            );
            for (name, prop) in props {
                if prop.get("description").is_none() || prop.get("markdownDescription").is_none() {
                    missing.push(format!("{at}/{name}"));
                }
            }
        }
        match value {
            serde_json::Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| walk(v, &format!("{at}/{k}"), missing)),
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, at, missing)),
            _ => {}
        }
    }
}

/// Runs flashc with `input` on standard input, written from a thread: flashc may stop reading
/// early (at its size limit), which ends the write with a broken pipe.
fn flashc_with_stdin(args: &[&str], input: Vec<u8>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_flashc"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn flashc");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    output
}

#[test]
fn reads_standard_input_for_editors() {
    let file = std::fs::read("tests/ui/check/workers.yaml").expect("case");
    let output = flashc_with_stdin(&["check", "--no-crate", "-", "--format", "json"], file);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["diagnostics"][0]["file"], "<stdin>");
    assert_eq!(report["diagnostics"][0]["code"], "FL0401");
}

#[test]
fn oversized_input_is_refused_without_reading_it_all() {
    let output = flashc_with_stdin(&["check", "-", "--format", "json"], vec![b'a'; 64 << 20]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["diagnostics"][0]["code"], "FL0003");
}

#[test]
fn check_resolves_handlers_through_cargo_metadata() {
    // The same golden output as tests/ui.rs's in-memory reading of Cargo.toml.
    let mut dirs: Vec<_> = std::fs::read_dir("tests/ui/handlers")
        .expect("tests/ui/handlers")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("flash.yaml").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    for dir in dirs {
        let file = dir.join("flash.yaml");
        let output = flashc(&["check", file.to_str().expect("utf-8"), "--color", "never"]);
        let expected = std::fs::read_to_string(dir.join("flash.out")).expect("flash.out");
        assert_eq!(stdout(&output), expected, "{}", dir.display());
    }
}

#[test]
fn no_crate_checks_flash_yaml_alone() {
    let file = "tests/ui/handlers/crate_not_found/flash.yaml";
    let output = flashc(&["check", file, "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["diagnostics"][0]["code"], "FL0701");
    let output = flashc(&["check", "--no-crate", file]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn standard_input_finds_the_crate_from_the_current_directory() {
    use std::io::Write;
    let dir = "tests/ui/handlers/stream_route_mismatch";
    let input = std::fs::read(format!("{dir}/flash.yaml")).expect("case");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flashc"))
        .args(["check", "-", "--format", "json"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn flashc");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let first = &report["diagnostics"][0];
    assert_eq!(first["code"], "FL0708");
    assert_eq!(first["related"][1]["file"], "src/events.rs");
    assert_eq!(first["related"][1]["line"], 3);
}

/// A file with thousands of problems: every format lists the first 500 and counts the rest;
/// the exit code and the summary still count them all.
#[test]
fn reports_are_capped_and_count_the_rest() {
    let mut file = String::from(
        "version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    handler: a::b\n",
    );
    file.push_str(
        &(0..2_000)
            .map(|i| format!("    k{i}: 1\n"))
            .collect::<String>(),
    );
    let run = |format: &str| {
        flashc_with_stdin(
            &["check", "--no-crate", "-", "--format", format],
            file.clone().into_bytes(),
        )
    };
    let json = run("json");
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(report["diagnostics"].as_array().map(Vec::len), Some(500));
    assert_eq!(report["summary"]["errors"], 2_000);
    assert_eq!(report["summary"]["omitted"], 1_500);

    let human = stdout(&run("human"));
    assert!(
        human.contains("… and 1500 more problems not shown"),
        "{human}"
    );
    assert!(human.ends_with("2000 errors and 0 warnings\n"), "{human}");
    let github = stdout(&run("github"));
    assert_eq!(
        github.lines().filter(|l| l.starts_with("::error")).count(),
        500
    );
    assert!(
        github.contains("::notice file=<stdin>::1500 more problems"),
        "{github}"
    );
    let sarif: serde_json::Value = serde_json::from_slice(&run("sarif").stdout).expect("sarif");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        Some(500)
    );
    assert_eq!(sarif["runs"][0]["properties"]["omittedResults"], 1_500);
}

#[test]
fn a_directory_means_its_flash_yaml_and_the_default_is_found_in_parents() {
    let dir = flashc(&["check", "examples/hello"]);
    assert_eq!(dir.status.code(), Some(0), "{}", stdout(&dir));
    assert!(stdout(&dir).contains("examples/hello/flash.yaml: no problems found"));
    // From inside the project (its src/), like cargo finding Cargo.toml.
    let inside = Command::new(env!("CARGO_BIN_EXE_flashc"))
        .arg("check")
        .current_dir("examples/hello/src")
        .output()
        .unwrap();
    assert_eq!(inside.status.code(), Some(0));
    assert!(stdout(&inside).contains("examples/hello/flash.yaml: no problems found"));
    // Nowhere to be found: an I/O failure that says what to pass.
    let nowhere = Command::new(env!("CARGO_BIN_EXE_flashc"))
        .arg("check")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(nowhere.status.code(), Some(3));
}

/// Issue 19 item 20: the README's "broken file" example shows exactly what that command prints.
#[test]
fn the_readme_shows_what_check_prints() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let section = readme
        .split("Try a broken file")
        .nth(1)
        .expect("the README's broken-file example");
    let mut blocks = section.split("```").skip(1).step_by(2);
    let command = blocks.next().unwrap();
    let shown = blocks.next().unwrap().trim_start_matches('\n');
    let args: Vec<&str> = command
        .trim_start_matches("sh")
        .trim()
        .strip_prefix("cargo run -- ")
        .expect("a `cargo run -- …` line")
        .split_whitespace()
        .collect();
    let out = flashc(&args);
    assert_eq!(stdout(&out).trim_end(), shown.trim_end());
}
