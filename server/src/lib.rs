//! Sluice server library.
