//! Taking the whole job input or JSON body as one value (`Input<T>`), and the Flash habit of
//! naming a parameter `input` that this warns about.

pub mod jobs {
    use flash_runtime::Input;
    use serde_json::Value;

    /// A ported Flash handler: `input` binds the field `input` of the job's input (FL0712).
    pub async fn process_data(input: Value) -> Value {
        input
    }

    /// The whole input as one value: fine.
    pub async fn process_whole(Input(input): Input<Value>) -> Value {
        input
    }
}

pub mod orders {
    use flash_runtime::Input;

    #[derive(serde::Deserialize, serde::Serialize)]
    pub struct Order {
        pub item: String,
    }

    /// The whole body: fine.
    pub async fn create(order: Input<Order>) -> String {
        order.item.clone()
    }

    /// The whole body beside a path parameter: fine.
    pub async fn replace(id: u64, Input(order): Input<Order>) -> String {
        format!("{id} {}", order.item)
    }

    /// The whole body and a field of it (FL0705).
    pub async fn both(id: u64, order: Input<Order>, note: String) -> String {
        format!("{id} {} {note}", order.item)
    }

    /// The whole body twice (FL0705).
    pub async fn twice(id: u64, a: Input<Order>, b: Input<Order>) -> String {
        format!("{id} {} {}", a.item, b.item)
    }

    /// A body with one field called `body` that is a string: bound by name, not reported.
    pub async fn note(body: String) -> String {
        body
    }
}
