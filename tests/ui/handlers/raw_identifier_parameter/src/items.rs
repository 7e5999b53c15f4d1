pub fn by_type(r#type: String) -> String {
    r#type
}

pub fn search(r#type: Option<String>) -> Option<String> {
    r#type
}

pub fn create(r#type: String, r#ref: Option<String>) -> String {
    format!("{type_}{}", r#ref.unwrap_or_default(), type_ = r#type)
}

pub fn remove(r#type: String) -> String {
    r#type
}
