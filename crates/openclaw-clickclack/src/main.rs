//! `openclaw-clickclack`: the OpenClaw ClickClack channel CLI.
fn main() {
    eprintln!("openclaw-clickclack: not built yet");
    std::process::exit(2);
}
