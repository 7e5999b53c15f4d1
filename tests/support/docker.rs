//! A stand-in for the `docker` CLI, for tests of what flashc asks of Docker.

use std::path::{Path, PathBuf};

/// A stand-in for the `docker` CLI (`DOCKER`): it logs each call and answers `image inspect`
/// with a digest derived from the tag. The real Docker and registry are in
/// tests/docker/registry.sh; this checks what flashc asks of them.
pub fn fake_docker(dir: &Path) -> PathBuf {
    let script = dir.join("docker");
    std::fs::write(
        &script,
        r#"#!/bin/sh
echo "$*" >> "$(dirname "$0")/docker.log"
case "$1" in
  image) tag=$(eval echo "\${$#}")
         echo "${tag%:*}@sha256:$(printf %s "$tag" | sha256sum | cut -c1-64)" ;;
esac
exit 0
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}
