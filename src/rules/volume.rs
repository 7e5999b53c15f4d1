use std::collections::HashMap;

use crate::diagnostic::Diagnostic;
use crate::load::Span;
use crate::model::vocab::{CPU_DATACENTERS, DEFAULT_VOLUME_DATACENTER};
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks network volumes: each has a `name` or an `id` (not both), at most one volume
    /// per datacenter, and each volume's datacenter is among the endpoint's datacenters
    /// (a volume without `datacenter` lives in `EU-RO-1`).
    ///
    /// ## Why
    /// A worker can mount only volumes in its own datacenter, and only one per datacenter;
    /// otherwise workers start without the data they expect.
    ///
    /// ## Example
    /// ```yaml
    /// datacenters: [US-CA-2]
    /// volume: { name: models }    # lives in EU-RO-1, where no worker of this endpoint runs
    /// ```
    pub static VOLUME = ("FL0501", "volume", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        let Some(volumes) = &spec.settings.volume else {
            continue;
        };
        let Some(node) = endpoint.node.get("volume") else {
            continue;
        };
        let allowed: Option<Vec<&str>> = match (&spec.settings.datacenters, &spec.settings.cpu) {
            (Some(dcs), _) => Some(dcs.iter().map(|d| d.0.as_str()).collect()),
            (None, Some(_)) => Some(CPU_DATACENTERS.to_vec()),
            (None, None) => None,
        };
        let mut by_dc: HashMap<&str, Span> = HashMap::new();
        for (index, volume) in volumes.as_slice().iter().enumerate() {
            let vnode = node.items().get(index).unwrap_or(node);
            let span = vnode.span;
            match (&volume.name, &volume.id) {
                (None, None) => out.push(
                    Diagnostic::new(&VOLUME, span, "volume has neither `name` nor `id`")
                        .label("which volume?")
                        .help("add `name: my-volume` (created if missing) or `id:` of an existing volume"),
                ),
                (Some(_), Some(_)) => out.push(
                    Diagnostic::new(&VOLUME, span, "volume has both `name` and `id`; give one")
                        .label("ambiguous volume")
                        .help("keep `id` to use an existing volume, or `name` to refer to it by name"),
                ),
                _ => {}
            }
            let dc = volume
                .datacenter
                .as_ref()
                .map_or(DEFAULT_VOLUME_DATACENTER, |d| d.0.as_str());
            let dc_span = vnode.get("datacenter").map_or(span, |d| d.span);
            if let Some(first) = by_dc.get(dc) {
                out.push(
                    Diagnostic::new(&VOLUME, dc_span, format!("a second volume in datacenter `{dc}`; one volume per datacenter is allowed"))
                        .label("second volume here")
                        .related(*first, format!("first volume in `{dc}`"))
                        .help("merge the data into one volume, or place the volumes in different datacenters"),
                );
            } else {
                by_dc.insert(dc, dc_span);
            }
            if let Some(allowed) = &allowed {
                if !allowed.contains(&dc) {
                    out.push(
                        Diagnostic::new(
                            &VOLUME,
                            dc_span,
                            format!("volume lives in `{dc}`, where endpoint `{}` runs no workers (datacenters: {})", endpoint.name, allowed.join(", ")),
                        )
                        .label("outside the endpoint's datacenters")
                        .related(endpoint.value_span("datacenters"), "the endpoint's datacenters")
                        .help(format!("add `{dc}` to `datacenters`, or set the volume's `datacenter` to one of them")),
                    );
                }
            }
        }
    }
}
