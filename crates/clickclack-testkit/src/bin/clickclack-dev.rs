//! `clickclack-dev`: a ClickClack-compatible development server (in memory).
fn main() {
    eprintln!("clickclack-dev: not built yet");
    std::process::exit(2);
}
