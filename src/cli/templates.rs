//! Reading a project's template overrides (`flash-templates/*.j2`) as flash.yaml is read:
//! regular files only (a FIFO would hang generate and dev, a device never ends) and bounded in
//! size, so no file in the project can stall or exhaust flashc.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The directory of overrides, beside flash.yaml.
pub const DIR: &str = "flash-templates";

/// The largest override read. The built-in templates are a few KB each.
const MAX_BYTES: u64 = 1 << 20;

/// `flash-templates/*.j2` beside flash.yaml, by name; they replace the built-in templates of
/// the same name. An error names the file and says why it cannot be used.
pub fn overrides(project: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut overrides = BTreeMap::new();
    let dir = project.join(DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(overrides);
    };
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".j2") {
            continue;
        }
        overrides.insert(name.to_string(), read(&path)?);
    }
    Ok(overrides)
}

fn read(path: &Path) -> Result<String, String> {
    let shown = path.display();
    // `metadata` follows a link: a link to a regular file is fine, one to a device is not.
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{shown} is not a regular file (a FIFO, device or directory); a template override must be one"
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "{shown} is larger than {} MiB, the most a template override may be",
            MAX_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{shown} is not UTF-8 text"))
}

/// The template a generated Rust file was rendered from, as a message names it: the project's
/// override when there is one.
pub fn shown(name: &str, overrides: &BTreeMap<String, String>) -> String {
    if overrides.contains_key(name) {
        format!("{DIR}/{name}")
    } else {
        format!("the built-in {name}")
    }
}
