//! Printing a deploy plan: a readable list for people, JSON for CI. Env values never appear
//! (the plan carries only which variables change).

use flashc::deploy::{Action, Api, DeployPlan, Effect};
use serde_json::{json, Value};

pub fn human(plan: &DeployPlan, base: &str) -> String {
    let mut out = format!(
        "flashc deploy: project `{}`{} against {base}\n",
        plan.project,
        plan.environment
            .as_deref()
            .map(|e| format!(", environment `{e}`"))
            .unwrap_or_default()
    );
    let width = plan
        .changes
        .iter()
        .map(|c| c.endpoint.len())
        .max()
        .unwrap_or(0);
    for c in &plan.changes {
        let sign = match c.action {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Delete => "-",
            Action::None => "=",
        };
        let mut notes = Vec::new();
        match c.action {
            Action::Update if c.rolls_workers => {
                notes.push("new release: workers roll".to_string())
            }
            Action::Update => notes.push("applies at once".to_string()),
            Action::Replace => notes.push("new id and URL".to_string()),
            _ => {}
        }
        if let Some(registry) = &c.registry {
            notes.push(format!("pulled with registry credential {registry}"));
        }
        if let Api::GraphQl { reason } = &c.api {
            notes.push(format!("via GraphQL saveEndpoint: {reason}"));
        }
        let id = c.id.as_deref().map(|i| format!(" {i}")).unwrap_or_default();
        out.push_str(&format!(
            "  {sign} {:width$}  {:7}{id}{}\n",
            c.endpoint,
            c.action.as_str(),
            if notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", notes.join("; "))
            }
        ));
        for f in &c.fields {
            let when = match f.effect {
                Effect::RollsWorkers => "rolls workers",
                Effect::AtOnce => "at once",
                Effect::Replace => "forces replace",
            };
            let change = if f.field.starts_with("env.") {
                match (&f.old, &f.new) {
                    _ if c.action == Action::None => String::new(),
                    _ => "changed (value not shown)".to_string(),
                }
            } else {
                format!("{} → {}", short(&f.old), short(&f.new))
            };
            out.push_str(&format!("        {}: {change}  [{when}]\n", f.field));
        }
    }
    let count = |a: Action| plan.changes.iter().filter(|c| c.action == a).count();
    out.push_str(&format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged (fingerprint {}).\n",
        count(Action::Create),
        count(Action::Update),
        count(Action::Replace),
        count(Action::Delete),
        count(Action::None),
        plan.fingerprint
    ));
    out
}

fn short(value: &Option<Value>) -> String {
    match value {
        None => "(unset)".into(),
        Some(v) => v.to_string(),
    }
}

pub fn json(plan: &DeployPlan, base: &str) -> String {
    let mut value = serde_json::to_value(plan).unwrap_or(Value::Null);
    value["apiBase"] = json!(base);
    value["pending"] = json!(plan.pending());
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}
