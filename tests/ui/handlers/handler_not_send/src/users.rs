use std::rc::Rc;

pub fn get(id: u64) -> Result<String, Box<dyn std::error::Error>> {
    Ok(id.to_string())
}

pub fn cache() -> Rc<String> {
    Rc::new(String::new())
}

pub fn fine(id: u64) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    Ok(id.to_string())
}
