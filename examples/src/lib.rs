//! Example configurations and recipes; see the files beside this crate.
