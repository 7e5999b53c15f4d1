//! Writes the greeting the library includes: a library built without this script running does
//! not compile.

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(
        std::path::Path::new(&out).join("greeting.rs"),
        "pub const GREETING: &str = \"written by build.rs\";\n",
    )
    .expect("write greeting.rs");
    println!("cargo:rerun-if-changed=build.rs");
}
