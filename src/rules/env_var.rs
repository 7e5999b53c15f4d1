use crate::diagnostic::Diagnostic;
use crate::load::{Node, Value};
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks env var names: letters, digits and `_`, not starting with a digit; and not a
    /// variable the platform or the worker runtime sets itself (`PORT`, `PORT_HEALTH`,
    /// `RUNPOD_*`), except `RUNPOD_API_KEY` as a secret reference (`{secret: NAME}`): the
    /// key an endpoint's handlers call the project's other endpoints with, which only the
    /// platform may hold. Also checks the names in secret references (`{secret: NAME}`): letters,
    /// digits, `_`, `-` and `.`. `SCRIPT_NAME` may be set: the platform does not set it, and
    /// flash-runtime reads it as a path prefix to serve routes under (they stay at the root
    /// too, so the platform's requests still reach them).
    ///
    /// ## Why
    /// Other names cannot be set by a shell or a Dockerfile `ENV`; overriding the
    /// platform's variables breaks routing and the job protocol.
    ///
    /// ## Example
    /// ```yaml
    /// env:
    ///   model-id: bert      # write MODEL_ID
    ///   PORT: "9000"        # set by the platform
    /// ```
    pub static ENV_VAR_NAME = ("FL0502", "env-var-name", Error);
}

declare_rule! {
    /// ## What it does
    /// Warns when an env var whose name suggests a secret (`*TOKEN*`, `*SECRET*`,
    /// `*PASSWORD*`, `*API_KEY*`, `*PRIVATE_KEY*`, `*ACCESS_KEY*`) has its value written
    /// in the file. A name FL0502 refuses (`RUNPOD_API_KEY`: the platform sets it) gets that
    /// error alone: making it a secret reference would not help.
    ///
    /// ## Why
    /// flash.yaml is committed and ends up in images; secrets belong on the platform and
    /// are referenced by name.
    ///
    /// ## Example
    /// ```yaml
    /// env:
    ///   HF_TOKEN: hf_abc123               # write HF_TOKEN: { secret: hf_token }
    /// ```
    pub static PLAIN_SECRET = ("FL0503", "plain-secret", Warning);
}

/// Set for every worker: `PORT` and `PORT_HEALTH` on deploy, to the port in the generated
/// manifest (where the worker listens); `RUNPOD_*` by Runpod.
const RESERVED: &[&str] = &["PORT", "PORT_HEALTH"];
/// The one `RUNPOD_*` variable flash.yaml sets, and only from a platform secret: the API key
/// `flash_runtime::endpoints` sends when a handler calls another endpoint.
pub const CALL_KEY: &str = "RUNPOD_API_KEY";
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
];

/// Whether FL0502 refuses `name` as an env var name (not an identifier, or set by the
/// platform).
fn is_refused_name(name: &str) -> bool {
    !crate::model::route_key::is_identifier(name)
        || RESERVED.contains(&name)
        || name.starts_with("RUNPOD_")
}

fn env_nodes<'a>(project: &'a Project) -> impl Iterator<Item = &'a crate::load::Entry> {
    project
        .endpoints
        .iter()
        .flat_map(|e| e.node.get("env").map(Node::entries).unwrap_or_default())
}

pub(super) fn check_names(project: &Project, out: &mut Vec<Diagnostic>) {
    for var in env_nodes(project) {
        if let Some(secret) = var.value.get("secret") {
            if let Value::Str(name) = &secret.value {
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                if !valid {
                    out.push(
                        Diagnostic::new(&ENV_VAR_NAME, secret.span, format!("secret name `{name}` may contain only letters, digits, `_`, `-` and `.`"))
                            .label("invalid secret name")
                            .help("use the name the secret has on the platform, such as `hf_token`"),
                    );
                }
            }
        }
        let name = var.key.as_str();
        let valid = crate::model::route_key::is_identifier(name);
        if !valid {
            let fixed: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            out.push(
                Diagnostic::new(&ENV_VAR_NAME, var.key_span, format!("env var name `{name}` may contain only letters, digits and `_`, not starting with a digit"))
                    .label("invalid name")
                    .help(format!("write `{}`", fixed.trim_start_matches(|c: char| c.is_ascii_digit()))),
            );
        } else if name == CALL_KEY {
            if var.value.get("secret").is_none() {
                out.push(
                    Diagnostic::new(
                        &ENV_VAR_NAME,
                        var.value.span,
                        format!("`{CALL_KEY}` can only be a secret reference"),
                    )
                    .label("not a secret reference")
                    .help(format!("store the key on Runpod as a secret and reference it: `{CALL_KEY}: {{ secret: runpod_api_key }}`; handlers send it when they call the project's other endpoints")),
                );
            }
        } else if RESERVED.contains(&name) || name.starts_with("RUNPOD_") {
            out.push(
                Diagnostic::new(
                    &ENV_VAR_NAME,
                    var.key_span,
                    format!("env var `{name}` is set for every worker; flash.yaml cannot set it"),
                )
                .label("reserved variable")
                .help(if name.starts_with("RUNPOD_") {
                    "remove it; Runpod sets the `RUNPOD_*` variables for every worker"
                } else {
                    "remove it; deploying sets `PORT` and `PORT_HEALTH` to the port in the generated manifest, where the worker listens"
                }),
            );
        }
    }
}

pub(super) fn check_secrets(project: &Project, out: &mut Vec<Diagnostic>) {
    for var in env_nodes(project) {
        let upper = var.key.to_ascii_uppercase();
        let Value::Str(value) = &var.value.value else {
            continue;
        };
        // A plain `RUNPOD_API_KEY` is an error of its own (above).
        if value.is_empty()
            || var.key == CALL_KEY
            || !SECRET_WORDS.iter().any(|w| upper.contains(w))
        {
            continue;
        }
        // FL0502 refuses the name itself (`RUNPOD_API_KEY`): a secret reference under it would
        // be refused too, so that advice would only lead to the same error.
        if is_refused_name(&var.key) {
            continue;
        }
        out.push(
            Diagnostic::new(
                &PLAIN_SECRET,
                var.value.span,
                format!(
                    "env var `{}` looks like a secret written in plain text",
                    var.key
                ),
            )
            .label("secret in the file")
            .help(format!(
                "store it on the platform and reference it: `{}: {{ secret: {} }}`",
                var.key,
                var.key.to_ascii_lowercase()
            )),
        );
    }
}
