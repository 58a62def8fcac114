//! Support code shared by the example binaries.
pub mod cli;
pub mod scan;
