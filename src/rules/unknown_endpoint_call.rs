use crate::diagnostic::Diagnostic;
use crate::facts::EndpointCall;
use crate::model::route_key::endpoint_id_env;
use crate::model::EndpointType;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks that every `Endpoint::named("…")` in the handler crate names a queue endpoint of
    /// flash.yaml, with the nearest name when it does not.
    ///
    /// ## Why
    /// A worker finds the endpoint it calls through `FLASH_ENDPOINT_<NAME>`, which deploy, the
    /// Kubernetes export and `flashc dev` set for each queue endpoint of the project. A name
    /// that is not one of them (a typo, a renamed endpoint, a load-balanced endpoint, which has
    /// no queue API) fails only when the call runs, in production. Names are compared as the
    /// variable compares them: `gpu_backend` finds `gpu-backend`. An endpoint of another
    /// project is called by setting its variable in the caller's `env` by hand
    /// (`FLASH_ENDPOINT_TRANSLATE: abc123`); a call whose variable flash.yaml sets is not checked.
    ///
    /// ## Example
    /// ```rust
    /// use flash_runtime::endpoints::Endpoint;
    ///
    /// // flash.yaml defines the queue endpoint `gpu-backend`: did you mean `gpu-backend`?
    /// pub async fn summarize(text: String) -> Option<serde_json::Value> {
    ///     let job = Endpoint::named("gpu-backnd").runsync(text).await.ok()?;
    ///     job.output
    /// }
    /// ```
    pub static UNKNOWN_ENDPOINT_CALL = ("FL0713", "unknown-endpoint-call", Error);
}

/// Reports each call whose name is not a queue endpoint of `project`, at the `endpoints` key
/// (the call's place in the Rust file is the related one). Endpoints whose type is unknown
/// (already reported) count as found, so nothing cascades.
pub fn check(project: &Project, calls: &[EndpointCall], out: &mut Vec<Diagnostic>) {
    let Some(anchor) = project.root.entry("endpoints").map(|e| e.key_span) else {
        return;
    };
    for call in calls {
        let var = endpoint_id_env(&call.name);
        // An endpoint outside the project, its id given by hand in flash.yaml's env.
        let set_by_hand = project.endpoints.iter().any(|e| {
            e.node
                .get("env")
                .is_some_and(|env| env.entries().iter().any(|v| v.key == var))
        });
        if set_by_hand {
            continue;
        }
        let Some(found) = project.endpoint_called(&call.name) else {
            let names = project.endpoints.iter().map(|e| e.name);
            let help = match crate::suggest::closest(&call.name, names) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("name one of flash.yaml's queue endpoints; for an endpoint of another project, set `{var}` to its id in the calling endpoint's `env`"),
            };
            out.push(
                Diagnostic::new(
                    &UNKNOWN_ENDPOINT_CALL,
                    anchor,
                    format!(
                        "the handler crate calls the endpoint `{}` (`Endpoint::named`), but flash.yaml has no endpoint by that name",
                        call.name
                    ),
                )
                .label("no such endpoint here")
                .related_file(call.at.clone(), "called here")
                .help(help),
            );
            continue;
        };
        if found.kind() == Some(EndpointType::LoadBalanced) {
            out.push(
                Diagnostic::new(
                    &UNKNOWN_ENDPOINT_CALL,
                    found.name_span,
                    format!(
                        "the handler crate calls `{}` with `Endpoint::named`, but it is a load-balanced endpoint: `Endpoint` runs jobs on a queue endpoint (`/run`, `/runsync`)",
                        found.name
                    ),
                )
                .label("load-balanced, not a queue")
                .related_file(call.at.clone(), "called here")
                .help(format!(
                    "call `{}`'s routes over HTTP at its URL, or make it `type: queue` to call it with `Endpoint`",
                    found.name
                )),
            );
        }
    }
}
