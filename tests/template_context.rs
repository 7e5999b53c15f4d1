//! The template context (`flashc::emit::context`), the contract between flashc and a project's
//! template overrides:
//! - docs/generate.md lists it, generated from its types (`BLESS=1 cargo test --test
//!   template_context` rewrites the list);
//! - every documented field can be read by every template (an override reading each renders);
//! - an override reading a field the context does not have is an error naming the override, the
//!   line and the field, with the field's nearest documented path.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flashc::emit::context;

mod support;
use support::{project::scratch_copy, workspace::DiskWorkspace};

const DOC: &str = "docs/generate.md";
const BEGIN: &str = "<!-- template context: generated from src/emit/context.rs; BLESS=1 cargo test --test template_context rewrites it -->\n";
const END: &str = "\n<!-- end of the template context -->";

#[test]
fn the_documented_context_is_fresh() {
    let doc = fs::read_to_string(DOC).unwrap();
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("{DOC} has no template context section ({BEGIN:?} … {END:?})");
    };
    let committed = &doc[start + BEGIN.len()..end];
    let fresh = context::markdown();
    if committed == fresh {
        return;
    }
    if std::env::var_os("BLESS").is_some() {
        let updated = format!("{}{BEGIN}{fresh}{}", &doc[..start], &doc[end..]);
        fs::write(DOC, updated).unwrap();
        return;
    }
    panic!(
        "{DOC}'s template context is stale: BLESS=1 cargo test --test template_context rewrites it"
    );
}

/// The list has every field of every type of the context, each with a description (its doc
/// comment); a field without one would be an undocumented contract.
#[test]
fn every_field_is_documented() {
    let markdown = context::markdown();
    let paths = context::field_paths();
    assert!(paths.len() > 40, "{paths:?}");
    for (path, field) in &paths {
        let row = markdown
            .lines()
            .find(|line| line.starts_with(&format!("| `{field}` |")))
            .unwrap_or_else(|| panic!("{path} is not in the list:\n{markdown}"));
        let description = row.rsplit(" | ").next().unwrap_or_default();
        assert!(description.len() > 3, "{path} has no description: {row}");
    }
    for expected in [
        "project",
        "endpoint.name",
        "endpoint.routes[].closure_params",
        "endpoint.job.body",
        "handler_crate.package",
        "endpoint.module",
        "endpoint.route_summaries[].handler",
    ] {
        assert!(
            paths.iter().any(|(path, _)| path == expected),
            "{expected}: {paths:?}"
        );
    }
}

/// An override of each template that reads every documented field (a value that may be none is
/// read only when it is not): each renders, and every field is read in some template.
#[test]
fn an_override_reading_every_documented_field_renders() {
    let paths = context::field_paths();
    let mut reader = String::new();
    for (path, _) in &paths {
        reader.push_str(&format!("[{path}={}]\n", read(path)));
    }
    let overrides = flashc::emit::TEMPLATES
        .iter()
        .map(|(name, _)| (name.to_string(), reader.clone()))
        .collect();
    let options = flashc::emit::Options {
        out_dir: ".flash",
        flashc_version: "9.9.9",
        overrides: &overrides,
    };
    let project = repo().join("examples/hello");
    let yaml = fs::read(project.join("flash.yaml")).unwrap();
    let generated = match flashc::generate(&yaml, None, &DiskWorkspace { base: project }, &options)
    {
        Ok(generated) => generated,
        Err(flashc::GenerateError::Problems(problems)) => panic!("{problems:?}"),
        Err(flashc::GenerateError::Internal(message)) => panic!("{message}"),
        Err(_) => panic!("generate failed"),
    };
    let mut rendered = String::new();
    for file in generated
        .files
        .iter()
        .chain(&flashc::emit::emit_dev(&generated.plan, &options).unwrap())
    {
        if file.contents.contains("[flashc_version=9.9.9]") {
            rendered.push_str(&file.contents);
        }
    }
    // workspace and skeleton manifests, .dockerignore, two workers × (manifest, skeleton
    // manifest, main.rs, Dockerfile), the dev host's manifest and main.rs.
    assert_eq!(rendered.matches("[flashc_version=9.9.9]").count(), 13);
    for (path, _) in &paths {
        // Only a GPU endpoint whose crate has a `cuda` feature has a CUDA build (hello has
        // none); the embeddings golden tree and tests/docker/cuda_build.sh render it.
        if path.starts_with("endpoint.cuda_build.") || path.starts_with("endpoints[].cuda_build.") {
            continue;
        }
        let unread = format!("[{path}=]");
        let read_somewhere = rendered
            .split('\n')
            .any(|line| line.starts_with(&format!("[{path}=")) && line != unread);
        assert!(read_somewhere, "{path} was never read with a value");
    }
    // Values, not placeholders: the hello example's facts come through.
    for fact in [
        "[project=hello]",
        "[endpoint.name=api]",
        "[endpoint.name=embed]",
        "[endpoint.kind=queue]",
        "[endpoint.job.handler=embed::run]",
        "[endpoint.routes[].path=/stream/users/users/{id}/users/{id}]",
        "[endpoint.module=api]",
        "[endpoint.constructor=QueueWorker::with_state(",
    ] {
        assert!(rendered.contains(fact), "{fact}\n{rendered}");
    }
}

/// How a template reads `path` (`endpoint.routes[].path`), skipping what is none.
fn read(path: &str) -> String {
    let (head, rest) = match path.split_once("[].") {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let mut text = match rest {
        None => format!("{{{{ {head} }}}}"),
        Some(rest) => format!(
            "{{% for item in {head} %}}{}{{% endfor %}}",
            read(&format!("item.{rest}"))
        ),
    };
    let parts: Vec<&str> = head.split('.').collect();
    for n in (1..parts.len()).rev() {
        let prefix = parts[..n].join(".");
        if prefix != "item" {
            text = format!("{{% if {prefix} is not none %}}{text}{{% endif %}}");
        }
    }
    text
}

#[test]
fn an_override_of_documented_fields_generates() {
    let project = scratch_copy("examples/hello", "template-context", "documented");
    let templates = project.join("flash-templates");
    fs::create_dir_all(&templates).unwrap();
    let builtin = fs::read_to_string(repo().join("templates/lb_main.rs.j2")).unwrap();
    let ours = builtin.replacen(
        "fn main()",
        "// {{ endpoint.routes|length }} routes on {{ endpoint.kind }} endpoint {{ endpoint.name }} of {{ project }}\nfn main()",
        1,
    );
    fs::write(templates.join("lb_main.rs.j2"), ours).unwrap();
    let out = generate(&project);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let main = fs::read_to_string(project.join(".flash/workers/api/src/main.rs")).unwrap();
    assert!(
        main.contains("// 4 routes on load_balanced endpoint api of hello\n"),
        "{main}"
    );
    fs::remove_dir_all(&project).unwrap();
}

#[test]
fn an_override_reading_an_unknown_field_is_an_error_naming_the_template_and_the_field() {
    let project = scratch_copy("examples/hello", "template-context", "unknown");
    let templates = project.join("flash-templates");
    fs::create_dir_all(&templates).unwrap();
    for (template, text_of_it, expected) in [
        (
            "worker.Cargo.toml.j2",
            "# {{ project }}\nname = \"{{ endpoint.nmae }}\"\n",
            &[
                "flash-templates/worker.Cargo.toml.j2, line 2",
                "`endpoint.nmae` is undefined",
                "did you mean `endpoint.name`?",
            ][..],
        ),
        (
            "lb_main.rs.j2",
            "fn main() {}\n{% for route in endpoint.routes %}\n// {{ route.handlr }}\n{% endfor %}\n",
            &[
                "flash-templates/lb_main.rs.j2, line 3",
                "`route.handlr` is undefined",
                "`endpoint.routes[].handler`",
            ],
        ),
        (
            // The plan's name for it, which the context does not have.
            "queue_main.rs.j2",
            "fn main() {}\n// {{ endpoint.handler.path }}\n",
            &[
                "flash-templates/queue_main.rs.j2, line 2",
                "`endpoint.handler.path` is undefined: the template context has no field `handler` there",
                "`endpoint.job.handler`",
            ],
        ),
        (
            // A field of the endpoint, in a template that has none.
            "dockerignore.j2",
            "target\n{{ endpoint.name }}\n",
            &[
                "flash-templates/dockerignore.j2, line 2",
                "`endpoint.name` is undefined here",
                "project-wide",
            ],
        ),
    ] {
        fs::write(templates.join(template), text_of_it).unwrap();
        let out = generate(&project);
        assert_eq!(out.status.code(), Some(3), "{template}: {}", text(&out));
        for wanted in expected {
            assert!(text(&out).contains(wanted), "{wanted}: {}", text(&out));
        }
        assert!(
            !project.join(".flash").exists(),
            "nothing is written: {template}"
        );
        fs::remove_file(templates.join(template)).unwrap();
    }
    fs::remove_dir_all(&project).unwrap();
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate(project: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flashc"))
        .arg("generate")
        .arg(project.join("flash.yaml"))
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
