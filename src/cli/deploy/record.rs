//! The deploy record, `flash-deploy.json` beside flash.yaml: what each deploy applied, so
//! `status`, `rollback` and drift detection work from a fresh clone. Users commit it.
//!
//! It holds, per environment (keyed by the ownership marker, `project` or `project.env`), a
//! numbered list of deployments; each names every endpoint's id, Runpod name, endpoint version
//! after the deploy, image and the exact create body. No API key is ever in it, and no secret
//! value: env secrets are in bodies only as `{{ RUNPOD_SECRET_<name> }}` references.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const FILE: &str = "flash-deploy.json";

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    #[serde(default)]
    pub environments: BTreeMap<String, History>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct History {
    #[serde(default)]
    pub deployments: Vec<Deployment>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub number: u32,
    pub applied_at: String,
    pub flashc: String,
    /// `deploy`, `rollback to N`, or `destroy`.
    pub source: String,
    /// By flash.yaml name.
    pub endpoints: BTreeMap<String, Applied>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_version: Option<u64>,
    pub image: String,
    /// The endpoint's callees (their ids are in `request.env`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callees: Vec<String>,
    /// The create body: what the endpoint is, as sent.
    pub request: Value,
}

pub fn path(project_dir: &Path) -> PathBuf {
    project_dir.join(FILE)
}

pub fn read(project_dir: &Path) -> Result<Record, String> {
    let file = path(project_dir);
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let record: Record = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a flashc deploy record: {e}", file.display()))?;
            if record.version != 1 {
                return Err(format!(
                    "{} is a version {} record; this flashc reads version 1",
                    file.display(),
                    record.version
                ));
            }
            Ok(record)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Record {
            version: 1,
            environments: BTreeMap::new(),
        }),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

/// Writes through a temporary file and a rename, so an interrupted write leaves the old record.
pub fn write(project_dir: &Path, record: &Record) -> Result<(), String> {
    let file = path(project_dir);
    let tmp = file.with_extension("json.tmp");
    let mut text = serde_json::to_string_pretty(record).map_err(|e| e.to_string())?;
    text.push('\n');
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &file))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

impl Record {
    /// The images of `owner`'s last deployment (the marker, [`flashc::deploy::body::owner`]) that
    /// are pinned by digest (`…@sha256:…`), by flash.yaml endpoint name. A tag can move, so it
    /// pins nothing. The Kubernetes export reads this.
    pub fn pinned_images(&self, owner: &str) -> BTreeMap<String, String> {
        let Some(last) = self.environments.get(owner).and_then(History::last) else {
            return BTreeMap::new();
        };
        last.endpoints
            .iter()
            .filter(|(_, applied)| applied.image.contains("@sha256:"))
            .map(|(name, applied)| (name.clone(), applied.image.clone()))
            .collect()
    }
}

impl History {
    pub fn last(&self) -> Option<&Deployment> {
        self.deployments.last()
    }

    pub fn get(&self, number: u32) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.number == number)
    }

    pub fn next_number(&self) -> u32 {
        self.deployments.last().map_or(1, |d| d.number + 1)
    }
}
