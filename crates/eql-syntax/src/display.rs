//! Display: AST → canonical EQL (to be written).
