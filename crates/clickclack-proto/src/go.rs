//! How every type in this crate decodes what a Go server sends (protocol.md §14).
//!
//! The server encodes with Go's `encoding/json`, so the same empty value can
//! arrive in several shapes. This module is the single place that decides how
//! those shapes decode; every field in the crate follows one of these rules:
//!
//! | Go field | What can arrive | Rust field and attribute |
//! |---|---|---|
//! | slice (`[]T`) | `[…]`, `[]`, `null`, or no key | `Vec<T>` with `#[serde(default, deserialize_with = "go::list")]`: all three empty shapes decode to an empty `Vec` |
//! | slice with `omitempty` | as above | the same, plus `skip_serializing_if = "Vec::is_empty"` |
//! | any `omitempty` field, pointer or optional key | the value, or no key (`null` for pointers) | `Option<T>` with `#[serde(default, skip_serializing_if = "Option::is_none")]` |
//! | opaque cursor sent as a plain `string` | `"cur_…"`, `""`, `null`, or no key | `Option<T>` with `#[serde(default, deserialize_with = "go::non_empty")]`: `""` is `None` |
//! | scalar that a zero-valued struct still sends | the value or its zero (`""`, `0`, `false`) | the plain type with `#[serde(default)]` |
//!
//! A write response that carries the resulting event (`event`, `events`) may
//! lack it or hold `null` (older servers, nonce replays): `event` is an
//! `Option<Event>`, `events` a list.
//!
//! Encoding stays Rust-shaped: a list is written as `[]` (a Go server reads
//! `[]` and `null` alike), an omitempty list and a `None` are left out.
//! `tests/go_shapes.rs` checks that every list field of the crate uses
//! [`list`], and `tests/hostile.rs` feeds every type through the shapes above.

use serde::{Deserialize, Deserializer};

/// Decodes a Go slice: `null` is an empty list (use with `#[serde(default)]`,
/// which covers a missing key).
pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Decodes an opaque string where Go sends `""` for "none": `null` and `""`
/// are `None` (use with `#[serde(default)]`, which covers a missing key).
pub fn non_empty<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    let value = Option::<String>::deserialize(d)?;
    Ok(value.filter(|s| !s.is_empty()).map(T::from))
}

/// Decodes a scalar that must not be `null` in Go but is tolerated as its
/// zero value here (event envelope fields).
pub fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
