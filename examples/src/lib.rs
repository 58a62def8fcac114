//! Support code shared by the example binaries.
