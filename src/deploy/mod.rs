//! `flashc deploy`'s core, beside the pipeline: lower's [`Plan`](crate::lower::Plan) becomes
//! Runpod REST v2 endpoint bodies ([`body`]), and those, against the live endpoints, become a
//! plan of changes ([`plan`]). Checked against Runpod's published OpenAPI document
//! ([`openapi`], `vendor/runpod/openapi.json`). Pure: the CLI (`src/cli/deploy/`) reads the
//! live state and carries the plan out.

pub mod body;
pub mod graphql;
pub mod locate;
pub mod openapi;
pub mod plan;

pub use body::{desired, owner, runpod_name, Api, Desired, EndpointBody, Inputs, Unmappable};
pub use plan::{plan, Action, Change, DeployPlan, Effect, Live};

#[cfg(test)]
mod tests;
