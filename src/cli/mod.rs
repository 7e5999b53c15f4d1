//! The parts of the command line that touch the machine: the file-system [`workspace`] the
//! resolver reads through, and [`generate`]'s writing of the output.

pub mod generate;
pub mod workspace;
