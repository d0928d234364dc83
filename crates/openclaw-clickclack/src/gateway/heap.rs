//! Gives the memory the startup burst freed back to the operating system.
//!
//! 1. Starting many accounts at once allocates and frees a lot of
//!    short-lived memory (requests and responses, JSON, websocket
//!    handshakes) between the long-lived allocations of every account.
//! 2. glibc's allocator keeps freed memory in its heaps for reuse; pages
//!    that still hold one live allocation stay resident, and free pages in
//!    the middle of a heap are returned only by `malloc_trim`.
//! 3. So once no account is `starting` any more, [`trim_after_startup`]
//!    calls `malloc_trim(0)` once, on a blocking thread: at 1,000 idle
//!    accounts this returned about a quarter of the gateway's resident
//!    memory (`cargo xtask bench --only peer.idle`, row
//!    `peer.idle_1000.gateway`). Later allocations reuse the heaps as
//!    before; the call costs a few milliseconds.
//!
//! With another allocator or C library it does nothing.

use tokio_util::sync::CancellationToken;

use super::status::StatusBoard;

/// Waits until no account of `status` is `starting`, then returns free heap
/// memory to the operating system (glibc only). Ends early at shutdown.
pub(crate) async fn trim_after_startup(status: StatusBoard, intake: CancellationToken) {
    if intake
        .run_until_cancelled(status.wait_started())
        .await
        .is_some()
    {
        let _ = tokio::task::spawn_blocking(release_free_memory).await;
    }
}

/// `malloc_trim(0)`: free pages of every glibc heap go back to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    // SAFETY: `malloc_trim` only releases memory glibc's allocator holds
    // free; it touches no live allocation and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}
