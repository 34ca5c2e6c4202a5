//! Benchmarks live in benches/; scripts comparing with other servers in bench/scripts.
