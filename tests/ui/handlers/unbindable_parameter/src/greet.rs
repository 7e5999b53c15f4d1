pub struct Model;

pub fn hello(name: &str) -> String {
    format!("hello {name}")
}

pub fn embed(model: &Model, text: String) -> Vec<f32> {
    vec![]
}
