//! Channel-name slugs, exactly as the server computes them.

/// Slugifies a channel name the way the server does on create and rename:
/// lowercase, every run of characters outside `[a-z0-9]` becomes one `-`,
/// and leading/trailing dashes are trimmed.
///
/// Lowercasing is Unicode-aware (like Go's `strings.ToLower`), so non-ASCII
/// letters that do not lowercase into `[a-z0-9]` become separators.
///
/// ```
/// assert_eq!(clickclack_proto::slugify("Hello World!!"), "hello-world");
/// assert_eq!(clickclack_proto::slugify("--Ops__Team 2--"), "ops-team-2");
/// assert_eq!(clickclack_proto::slugify("!!!"), "");
/// ```
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_dash = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c);
        } else {
            pending_dash = true;
        }
    }
    out
}
