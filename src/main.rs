//! The `wasap` command line.
fn main() {
    println!("wasap {}", env!("CARGO_PKG_VERSION"));
}
