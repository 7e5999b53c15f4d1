//! Every diagnostic code flashc can emit, one file each, in the manner of ruff's rules.
//!
//! A rule's doc comment is its documentation: `flashc explain CODE` prints it and
//! `docs/rules.md` is generated from it. Codes are stable; a retired code is never reused.
//! Codes by range: FL00xx reading YAML, FL01xx schema (shape of the file), FL02xx endpoints
//! and routes, FL03xx compute, FL04xx scaling and timing, FL05xx placement and runtime,
//! FL06xx project and environments, FL07xx handlers and the crate (stage 3, resolve: the
//! handler crate located, each handler found and its signature checked against flash.yaml).
//!
//! Load and schema codes document problems their stage finds; semantic rules also carry the
//! `check` function the rule engine runs on each resolved project.

use crate::diagnostic::{Diagnostic, Rule};
use crate::facts::{CrateSite, EndpointCall, HandlerUse};
use crate::project::Project;

mod blocking_call;
mod container_disk;
mod cpu_datacenter;
mod crate_not_found;
mod crate_path;
mod cuda_version;
mod duplicate_entry;
mod duplicate_route;
mod endpoint_name;
mod endpoint_type;
mod env_var;
mod environment;
mod execution_timeout;
mod gpu_list;
mod gpu_or_cpu;
mod handler_not_found;
mod handler_not_public;
mod handler_not_send;
mod handler_path;
mod image;
mod init_state;
mod invalid_value;
mod limits;
mod missing_key;
mod package_name;
mod path_parameter;
mod project_name;
mod query_parameter_type;
mod reserved_path;
mod route_key;
mod route_parameter_not_taken;
mod scaler;
mod stream_route_mismatch;
mod system_dependency;
mod unbindable_parameter;
mod unknown_endpoint_call;
mod unknown_key;
mod unserializable_return;
mod volume;
mod whole_input_habit;
mod workers;
mod wrong_type;

pub use crate::load::rules::{DUPLICATE_KEY, FLOAT_VERSION, NOT_UTF8, YAML_LIMITS, YAML_SYNTAX};
pub use blocking_call::BLOCKING_CALL;
pub use container_disk::CONTAINER_DISK;
pub use cpu_datacenter::CPU_DATACENTER;
pub use crate_not_found::CRATE_NOT_FOUND;
pub use crate_path::{
    describe_char, is_plain_path_char, leaves_project, path_problem, PathProblem, CRATE_PATH,
};
pub use cuda_version::CUDA_VERSION;
pub use duplicate_entry::DUPLICATE_ENTRY;
pub use duplicate_route::DUPLICATE_ROUTE;
pub use endpoint_name::ENDPOINT_NAME;
pub use endpoint_type::{FIELD_FOR_OTHER_TYPE, MISSING_TYPE_FIELDS};
pub use env_var::{ENV_VAR_NAME, PLAIN_SECRET};
pub use environment::UNKNOWN_OVERLAY_TARGET;
pub use execution_timeout::EXECUTION_TIMEOUT;
pub use gpu_list::GPU_LIST;
pub use gpu_or_cpu::{CPU_WITH_GPU_SETTINGS, GPU_AND_CPU};
pub use handler_not_found::HANDLER_NOT_FOUND;
pub use handler_not_public::HANDLER_NOT_PUBLIC;
pub use handler_not_send::HANDLER_NOT_SEND;
pub use handler_path::HANDLER_PATH;
pub use image::IMAGE_REFERENCE;
pub use init_state::INIT_STATE;
pub use invalid_value::INVALID_VALUE;
pub use limits::OUT_OF_RANGE;
pub use missing_key::MISSING_KEY;
pub use package_name::{worker_package, PACKAGE_NAME, RUNTIME_PACKAGE};
pub use path_parameter::PATH_PARAMETER;
pub use project_name::PROJECT_NAME;
pub use query_parameter_type::QUERY_PARAMETER_TYPE;
pub use reserved_path::RESERVED_PATH;
pub use route_key::ROUTE_KEY;
pub use route_parameter_not_taken::ROUTE_PARAMETER_NOT_TAKEN;
pub use scaler::SCALER;
pub use stream_route_mismatch::STREAM_ROUTE_MISMATCH;
pub use system_dependency::SYSTEM_DEPENDENCY;
pub use unbindable_parameter::UNBINDABLE_PARAMETER;
pub use unknown_endpoint_call::UNKNOWN_ENDPOINT_CALL;
pub use unknown_key::UNKNOWN_KEY;
pub use unserializable_return::UNSERIALIZABLE_RETURN;
pub use volume::VOLUME;
pub use whole_input_habit::WHOLE_INPUT_HABIT;
pub use workers::WORKERS;
pub use wrong_type::WRONG_TYPE;

pub use handler_path::is_handler_path;

/// Every code, in code order.
pub static ALL: &[&Rule] = &[
    &YAML_SYNTAX,
    &NOT_UTF8,
    &YAML_LIMITS,
    &DUPLICATE_KEY,
    &FLOAT_VERSION,
    &UNKNOWN_KEY,
    &WRONG_TYPE,
    &INVALID_VALUE,
    &OUT_OF_RANGE,
    &MISSING_KEY,
    &ENDPOINT_NAME,
    &MISSING_TYPE_FIELDS,
    &FIELD_FOR_OTHER_TYPE,
    &HANDLER_PATH,
    &ROUTE_KEY,
    &PATH_PARAMETER,
    &RESERVED_PATH,
    &DUPLICATE_ROUTE,
    &GPU_AND_CPU,
    &CPU_WITH_GPU_SETTINGS,
    &CUDA_VERSION,
    &GPU_LIST,
    &CPU_DATACENTER,
    &CONTAINER_DISK,
    &WORKERS,
    &SCALER,
    &EXECUTION_TIMEOUT,
    &VOLUME,
    &ENV_VAR_NAME,
    &PLAIN_SECRET,
    &SYSTEM_DEPENDENCY,
    &IMAGE_REFERENCE,
    &DUPLICATE_ENTRY,
    &PROJECT_NAME,
    &UNKNOWN_OVERLAY_TARGET,
    &CRATE_PATH,
    &PACKAGE_NAME,
    &CRATE_NOT_FOUND,
    &HANDLER_NOT_FOUND,
    &HANDLER_NOT_PUBLIC,
    &ROUTE_PARAMETER_NOT_TAKEN,
    &UNBINDABLE_PARAMETER,
    &QUERY_PARAMETER_TYPE,
    &UNSERIALIZABLE_RETURN,
    &STREAM_ROUTE_MISMATCH,
    &INIT_STATE,
    &HANDLER_NOT_SEND,
    &BLOCKING_CALL,
    &WHOLE_INPUT_HABIT,
    &UNKNOWN_ENDPOINT_CALL,
];

/// A semantic rule's check: reads the resolved project, reports into `out`.
pub type Check = fn(&Project, &mut Vec<Diagnostic>);

/// Every semantic rule's check, in code order (what `validate` runs on each resolved project;
/// load, schema and handler codes are reported by their own stage). A check left out of this
/// list never runs; `every_rule_has_a_ui_case` (tests/ui.rs) then fails, since its code is
/// reported by no case.
pub static CHECKS: &[Check] = &[
    endpoint_name::check,
    endpoint_type::check_missing,
    endpoint_type::check_other,
    handler_path::check,
    route_key::check,
    path_parameter::check,
    reserved_path::check,
    duplicate_route::check,
    gpu_or_cpu::check_both,
    gpu_or_cpu::check_gpu_settings,
    cuda_version::check,
    gpu_list::check,
    cpu_datacenter::check,
    container_disk::check,
    workers::check,
    scaler::check,
    execution_timeout::check,
    volume::check,
    env_var::check_names,
    env_var::check_secrets,
    system_dependency::check,
    image::check,
    duplicate_entry::check,
    project_name::check,
    crate_path::check,
    package_name::check,
];

pub fn find(code: &str) -> Option<&'static Rule> {
    ALL.iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code) || r.name == code)
}

/// A handler rule's check (FL07xx): reads what resolve found for every handler string of one
/// merged project ([`crate::facts`]), reports into `out`.
pub type HandlerCheck = fn(&[HandlerUse], &mut Vec<Diagnostic>);

/// Every handler rule's check, in code order (the crate's location, FL0701, FL0603's files and
/// FL0604, is reported while the crate is located).
pub static HANDLER_CHECKS: &[HandlerCheck] = &[
    handler_not_found::check,
    handler_not_public::check,
    route_parameter_not_taken::check,
    unbindable_parameter::check,
    query_parameter_type::check,
    unserializable_return::check,
    stream_route_mismatch::check,
    init_state::check,
    handler_not_send::check,
    blocking_call::check,
    whole_input_habit::check,
];

/// Runs every handler rule on one project's handler uses.
pub fn check_handlers(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    for check in HANDLER_CHECKS {
        check(uses, out);
    }
}

/// Runs FL0713 on the `Endpoint::named` calls of the handler crate, against one merged
/// project's endpoints.
pub fn check_endpoint_calls(project: &Project, calls: &[EndpointCall], out: &mut Vec<Diagnostic>) {
    unknown_endpoint_call::check(project, calls, out);
}

/// Runs the crate-location rules (FL0701, FL0603 for the crate's files, FL0604) on where the
/// handler crate was looked for.
pub fn check_crate(site: &CrateSite, out: &mut Vec<Diagnostic>) {
    crate_not_found::check(site, out);
    crate_path::check_files(site, out);
    package_name::check_crate(site, out);
}
