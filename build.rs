//! flashc embeds flash-runtime's source (src/emit/runtime_source.rs) and its templates; rebuild
//! when either changes, which `include_dir!` alone does not tell cargo on stable Rust.

fn main() {
    println!("cargo:rerun-if-changed=runtime/src");
    println!("cargo:rerun-if-changed=runtime/Cargo.toml");
    println!("cargo:rerun-if-changed=templates");
}
