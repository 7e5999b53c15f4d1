//! The parts of the command line that touch the machine: the file-system [`workspace`] the
//! resolver reads through, [`generate`]'s writing of the output (and [`kubernetes`]'s, for `--target kubernetes`), and the commands that run
//! things: [`init`], [`dev`] and [`lsp`].

pub mod deploy;
pub mod dev;
pub mod emulate;
pub mod generate;
pub mod init;
pub mod kubernetes;
pub mod lsp;
mod lsp_transport;
pub mod output;
pub mod templates;
pub mod workspace;
