//! Calls of the project's other endpoints with `Endpoint::named`: the name must be a queue
//! endpoint of flash.yaml (FL0713), compared as `FLASH_ENDPOINT_<NAME>` compares names.

pub mod api {
    use flash_runtime::endpoints::Endpoint;
    use serde_json::Value;

    /// The backend's name, through a constant: `gpu_backend` is `gpu-backend`'s variable.
    const BACKEND: &str = "gpu_backend";

    pub async fn summarize(text: String) -> Value {
        let _ = Endpoint::named(BACKEND);
        Value::String(text)
    }

    /// A typo (FL0713, with the nearest name), and another project's endpoint by its
    /// variable (fine).
    pub async fn translate(text: String) -> Value {
        let _ = flash_runtime::endpoints::Endpoint::named("gpu-backnd");
        let _ = Endpoint::named("translator");
        let _ = Endpoint::named("nothing-like-it");
        Value::String(text)
    }

    /// A load-balanced endpoint has no queue to run jobs on (FL0713).
    pub async fn echo(text: String) -> Value {
        let _ = Endpoint::named("api");
        Value::String(text)
    }

    #[cfg(test)]
    mod tests {
        /// Test code may name anything.
        #[test]
        fn fake() {
            let _ = flash_runtime::endpoints::Endpoint::named("nowhere");
        }
    }
}

/// A type of the crate's own named `Endpoint`: its `named` is not flash-runtime's.
pub mod registry {
    pub struct Endpoint;

    impl Endpoint {
        pub fn named(_name: &str) -> Endpoint {
            Endpoint
        }
    }

    pub fn lookup() -> Endpoint {
        Endpoint::named("not-an-endpoint")
    }
}

pub mod backend {
    pub async fn summarize(text: String) -> String {
        text
    }
}

#[cfg(test)]
fn helper() {
    let _ = flash_runtime::endpoints::Endpoint::named("test-only");
}
