pub struct Model;

pub fn load() -> Model {
    Model
}
