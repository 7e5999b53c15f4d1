use crate::diagnostic::Diagnostic;
use std::collections::hash_map::{Entry, HashMap};

use crate::load::{Span, Value};
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Warns when a list names the same entry twice: `datacenters`, `cpu` flavors or
    /// `system_dependencies`. (Repeated `gpu` entries are reported by FL0304.)
    ///
    /// ## Why
    /// A repeat changes nothing, so it usually stands where something else was meant
    /// (`[US-CA-2, US-CA-2]` for `[US-CA-2, US-IL-1]`).
    ///
    /// ## Example
    /// ```yaml
    /// datacenters: [US-CA-2, EU-RO-1, US-CA-2]
    /// ```
    pub static DUPLICATE_ENTRY = ("FL0506", "duplicate-list-entry", Warning);
}

const LISTS: &[&str] = &["datacenters", "cpu", "system_dependencies"];

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for endpoint in &project.endpoints {
        for key in LISTS {
            let Some(list) = endpoint.node.get(key) else {
                continue;
            };
            // The first place of each entry: linear in the length of the list.
            let mut firsts: HashMap<&str, Span> = HashMap::new();
            for item in list.items() {
                let Value::Str(text) = &item.value else {
                    continue;
                };
                let first = match firsts.entry(text.as_str()) {
                    Entry::Occupied(first) => Some(*first.get()),
                    Entry::Vacant(slot) => {
                        slot.insert(item.span);
                        None
                    }
                };
                if let Some(first) = first {
                    out.push(
                        Diagnostic::new(
                            &DUPLICATE_ENTRY,
                            item.span,
                            format!("`{text}` is listed twice in `{key}`"),
                        )
                        .label("listed again")
                        .related(first, "first listed here")
                        .help("remove the repeat, or name the entry you meant"),
                    );
                }
            }
        }
    }
}
