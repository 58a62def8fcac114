//! Support code shared by the example binaries.
pub mod scan;
