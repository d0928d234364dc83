//! The bytes of a cursor file: two checksummed copies of the cursor, or a
//! plain cursor line (see [`FileCursorStore`](super::FileCursorStore) for the
//! format and its crash guarantee).
//!
//! Everything here is pure: [`decode`] reads a file's bytes, [`plan`] says
//! what the next save writes. The store does the I/O.

/// How every slot begins.
const MAGIC: &str = "cursor ";
/// Between the cursor and its generation.
const GENERATION_TAG: &str = " gen ";
/// Between the generation and the checksum.
const CHECKSUM_TAG: &str = " crc32 ";
/// Room a slot keeps besides the cursor: the tags, a 20-digit generation, the
/// 8-digit checksum and the newline take 48 bytes; the rest is padding.
const SLOT_OVERHEAD: usize = 64;
/// Slots are a multiple of this many bytes.
const SLOT_ROUNDING: usize = 64;

/// One intact slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot<'a> {
    /// The cursor it holds.
    pub(super) cursor: &'a str,
    /// Which save wrote it: a larger generation is newer.
    pub(super) generation: u64,
}

/// What a cursor file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Decoded<'a> {
    /// Two slots of `slot_len` bytes each, at least one of them intact.
    Slots {
        /// The length of each slot (half the file).
        slot_len: usize,
        /// The intact slots (`None`: torn or damaged).
        slots: [Option<Slot<'a>>; 2],
    },
    /// A plain cursor (a file from before slots, or written by hand).
    Plain(&'a str),
}

impl<'a> Decoded<'a> {
    /// The cursor a load returns: the newest intact slot's, or the plain one.
    pub(super) fn cursor(&self) -> &'a str {
        match self {
            Decoded::Slots { slots, .. } => match newest(slots) {
                Some((_, slot)) => slot.cursor,
                None => "",
            },
            Decoded::Plain(cursor) => cursor,
        }
    }
}

/// The newest intact slot and its index (slot 0 on a tie).
fn newest<'s, 'a>(slots: &'s [Option<Slot<'a>>; 2]) -> Option<(usize, &'s Slot<'a>)> {
    match slots {
        [Some(a), Some(b)] if b.generation > a.generation => Some((1, b)),
        [Some(a), _] => Some((0, a)),
        [None, Some(b)] => Some((1, b)),
        [None, None] => None,
    }
}

/// Whether `s` can be stored: non-empty, at most 1,024 bytes, no whitespace
/// or control characters (so a slot's fields split on spaces).
pub(super) fn valid_cursor(s: &str) -> bool {
    !s.is_empty() && s.len() <= 1024 && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Reads a cursor file's bytes. `Err` is the problem for
/// [`CursorStoreError::UnusableFile`](super::CursorStoreError::UnusableFile)
/// (`"is empty"`, …); the caller checks the size cap first.
pub(super) fn decode(raw: &[u8]) -> Result<Decoded<'_>, String> {
    if raw.is_empty() {
        return Err("is empty".into());
    }
    let slot_len = raw.len() / 2;
    if raw.len().is_multiple_of(2) {
        let (first, second) = raw.split_at(slot_len);
        let slots = [decode_slot(first), decode_slot(second)];
        if slots.iter().any(Option::is_some) {
            return Ok(Decoded::Slots { slot_len, slots });
        }
    }
    if raw.starts_with(MAGIC.as_bytes())
        || raw
            .get(slot_len..)
            .is_some_and(|half| half.starts_with(MAGIC.as_bytes()))
    {
        return Err("holds two damaged copies of the cursor (neither passes its checksum)".into());
    }
    let text = std::str::from_utf8(raw).map_err(|_| "is not UTF-8 text".to_owned())?;
    let value = text.trim();
    if value.is_empty() {
        return Err("holds only whitespace".into());
    }
    if !valid_cursor(value) {
        return Err("does not hold a cursor".into());
    }
    Ok(Decoded::Plain(value))
}

/// One slot: `cursor <cursor> gen <generation> crc32 <8 hex digits>`, spaces
/// up to the slot's length, a newline. The checksum covers everything before
/// ` crc32 `. `None` unless every byte is as [`encode_slot`] writes it.
fn decode_slot(bytes: &[u8]) -> Option<Slot<'_>> {
    let (last, body) = bytes.split_last()?;
    if *last != b'\n' {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let record = text.trim_end_matches(' ');
    let (covered, checksum) = record.rsplit_once(CHECKSUM_TAG)?;
    let rest = covered.strip_prefix(MAGIC)?;
    let (cursor, generation) = rest.rsplit_once(GENERATION_TAG)?;
    if checksum.len() != 8
        || !checksum
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        || u32::from_str_radix(checksum, 16).ok()? != crc32(covered.as_bytes())
    {
        return None;
    }
    if !valid_cursor(cursor)
        || generation.is_empty()
        || !generation.bytes().all(|b| b.is_ascii_digit())
        || (generation.len() > 1 && generation.starts_with('0'))
    {
        return None;
    }
    Some(Slot {
        cursor,
        generation: generation.parse().ok()?,
    })
}

/// The slot length a file for `cursor` gets: room for any generation.
pub(super) fn slot_len_for(cursor: &str) -> usize {
    (cursor.len() + SLOT_OVERHEAD).div_ceil(SLOT_ROUNDING) * SLOT_ROUNDING
}

/// One slot's bytes, or `None` if the record does not fit `slot_len`.
pub(super) fn encode_slot(cursor: &str, generation: u64, slot_len: usize) -> Option<Vec<u8>> {
    let covered = format!("{MAGIC}{cursor}{GENERATION_TAG}{generation}");
    let record = format!("{covered}{CHECKSUM_TAG}{:08x}", crc32(covered.as_bytes()));
    if record.len() + 1 > slot_len {
        return None;
    }
    let mut out = Vec::with_capacity(slot_len);
    out.extend_from_slice(record.as_bytes());
    out.resize(slot_len - 1, b' ');
    out.push(b'\n');
    Some(out)
}

/// A whole file holding `cursor` in both slots, at `generation`.
pub(super) fn encode_file(cursor: &str, generation: u64) -> Vec<u8> {
    let slot_len = slot_len_for(cursor);
    let slot = encode_slot(cursor, generation, slot_len).unwrap_or_default();
    let mut out = slot.clone();
    out.extend_from_slice(&slot);
    out
}

/// What a save writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    /// Overwrite one slot in place: `bytes` at `offset`.
    InPlace {
        /// Where the slot starts.
        offset: u64,
        /// The new slot.
        bytes: Vec<u8>,
    },
    /// Write a new file and rename it over the old one (no file yet, a
    /// plain or damaged one, or a cursor too long for its slots).
    Replace(Vec<u8>),
}

/// What saving `cursor` over a file holding `current` (`None`: no file)
/// writes. An in-place write never touches the newest intact slot, so a
/// write torn by a crash leaves it to be read.
pub(super) fn plan(current: Option<&[u8]>, cursor: &str) -> Plan {
    let decoded = current.and_then(|raw| decode(raw).ok());
    let Some(Decoded::Slots { slot_len, slots }) = decoded else {
        return Plan::Replace(encode_file(cursor, 1));
    };
    let Some((index, slot)) = newest(&slots) else {
        return Plan::Replace(encode_file(cursor, 1));
    };
    let Some(generation) = slot.generation.checked_add(1) else {
        return Plan::Replace(encode_file(cursor, 1));
    };
    match encode_slot(cursor, generation, slot_len) {
        Some(bytes) => Plan::InPlace {
            offset: ((1 - index) * slot_len) as u64,
            bytes,
        },
        None => Plan::Replace(encode_file(cursor, generation)),
    }
}

/// CRC-32 (IEEE 802.3, the one of zlib and PNG) of `bytes`.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = CRC_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    !crc
}

/// The byte-at-a-time table of [`crc32`].
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn a_file_is_two_readable_lines() {
        let file = encode_file("cur_01JD8ZK3V7Q2M4N6P8R0S2T4V6", 1);
        let text = std::str::from_utf8(&file).expect("text");
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], lines[1]);
        assert!(
            lines[0].starts_with("cursor cur_01JD8ZK3V7Q2M4N6P8R0S2T4V6 gen 1 crc32 "),
            "{text}"
        );
        assert_eq!(file.len(), 2 * 128);
    }

    #[test]
    fn saves_alternate_between_the_slots() {
        let mut file = encode_file("cur_1", 1);
        for (i, cursor) in ["cur_2", "cur_3", "cur_4"].into_iter().enumerate() {
            let Plan::InPlace { offset, bytes } = plan(Some(&file), cursor) else {
                panic!("in place");
            };
            let expected = if i % 2 == 0 { file.len() / 2 } else { 0 };
            assert_eq!(offset as usize, expected);
            apply(&mut file, offset, &bytes, bytes.len());
            assert_eq!(decode(&file).expect("decode").cursor(), cursor);
        }
    }

    #[test]
    fn files_that_cannot_take_a_slot_are_replaced() {
        assert_eq!(plan(None, "cur_1"), Plan::Replace(encode_file("cur_1", 1)));
        assert_eq!(
            plan(Some(b"cur_1\n"), "cur_2"),
            Plan::Replace(encode_file("cur_2", 1))
        );
        assert_eq!(
            plan(Some(b"\0\0"), "cur_2"),
            Plan::Replace(encode_file("cur_2", 1))
        );
        // A longer cursor than the slots hold: a new file, a newer generation.
        let long = "c".repeat(200);
        let file = encode_file("cur_1", 7);
        assert_eq!(
            plan(Some(&file), &long),
            Plan::Replace(encode_file(&long, 8))
        );
        // The last generation: start over rather than tie.
        let file = encode_file("cur_1", u64::MAX);
        assert_eq!(
            plan(Some(&file), "cur_2"),
            Plan::Replace(encode_file("cur_2", 1))
        );
    }

    #[test]
    fn damaged_files_say_what_is_wrong() {
        let file = encode_file("cur_1", 3);
        let mut both = file.clone();
        let half = both.len() / 2;
        both[10] ^= 1;
        both[half + 10] ^= 1;
        let cases: [(&[u8], &str); 6] = [
            (b"", "is empty"),
            (b" \n", "holds only whitespace"),
            (b"two words\n", "does not hold a cursor"),
            (b"\xff\xfe", "is not UTF-8 text"),
            (&both, "holds two damaged copies"),
            (&file[..half], "holds two damaged copies"),
        ];
        for (raw, problem) in cases {
            let err = decode(raw).expect_err(problem);
            assert!(err.starts_with(problem), "{problem}: {err}");
        }
    }

    #[test]
    fn a_plain_cursor_line_is_read_as_written_by_hand() {
        for raw in [&b"cur_7\n"[..], b"cur_7", b"  cur_7 \r\n", b"cursor\n"] {
            let decoded = decode(raw).expect("plain");
            assert!(matches!(decoded, Decoded::Plain(_)), "{decoded:?}");
        }
        assert_eq!(decode(b"cur_7\n").expect("plain").cursor(), "cur_7");
    }

    /// Writes `bytes[..landed]` at `offset` (a write cut short).
    fn apply(file: &mut [u8], offset: u64, bytes: &[u8], landed: usize) {
        let at = offset as usize;
        file[at..at + landed].copy_from_slice(&bytes[..landed]);
    }

    fn cursor() -> impl Strategy<Value = String> {
        "[!-~]{1,120}"
    }

    /// How a crash can leave a write: cut short, some of its bytes landed
    /// in any order (512-byte sectors, or single bytes), or garbage over a
    /// part of the slot being written.
    #[derive(Debug, Clone)]
    enum Tear {
        Prefix(usize),
        Mask(Vec<bool>),
        Garbage(usize, Vec<u8>),
    }

    fn tear() -> impl Strategy<Value = Tear> {
        prop_oneof![
            any::<usize>().prop_map(Tear::Prefix),
            proptest::collection::vec(any::<bool>(), 1..64).prop_map(Tear::Mask),
            (
                any::<usize>(),
                proptest::collection::vec(any::<u8>(), 1..40)
            )
                .prop_map(|(at, g)| Tear::Garbage(at, g)),
        ]
    }

    /// The file after a crash during `plan`'s write.
    fn crash(file: &[u8], plan: &Plan, tear: &Tear) -> Vec<u8> {
        let (offset, bytes) = match plan {
            Plan::InPlace { offset, bytes } => (*offset as usize, bytes.as_slice()),
            // Replacing is a rename: the old file or the new one.
            Plan::Replace(new) => {
                return match tear {
                    Tear::Prefix(n) if n % 2 == 0 => file.to_vec(),
                    _ => new.clone(),
                };
            }
        };
        let mut out = file.to_vec();
        match tear {
            Tear::Prefix(n) => {
                let landed = n % (bytes.len() + 1);
                out[offset..offset + landed].copy_from_slice(&bytes[..landed]);
            }
            Tear::Mask(mask) => {
                let chunk = bytes.len().div_ceil(mask.len());
                for (i, b) in bytes.iter().enumerate() {
                    if mask[i / chunk] {
                        out[offset + i] = *b;
                    }
                }
            }
            Tear::Garbage(at, garbage) => {
                out[offset..offset + bytes.len()].copy_from_slice(bytes);
                let end = offset + bytes.len();
                let start = offset + at % bytes.len();
                for (i, g) in garbage.iter().enumerate().take(end - start) {
                    out[start + i] = *g;
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_save_reads_back(cursors in proptest::collection::vec(cursor(), 1..8)) {
            let mut file: Option<Vec<u8>> = None;
            for c in &cursors {
                file = Some(match plan(file.as_deref(), c) {
                    Plan::Replace(new) => new,
                    Plan::InPlace { offset, bytes } => {
                        let mut f = file.clone().unwrap_or_default();
                        apply(&mut f, offset, &bytes, bytes.len());
                        f
                    }
                });
                let f = file.as_deref().unwrap_or_default();
                prop_assert_eq!(decode(f).map(|d| d.cursor()), Ok(c.as_str()));
                prop_assert!(std::str::from_utf8(f).is_ok());
            }
        }

        /// The crash guarantee: a save cut short anywhere leaves the
        /// previous cursor or the new one, never another, never an error;
        /// the next save then reads back.
        #[test]
        fn a_torn_save_leaves_the_old_or_the_new_cursor(
            history in proptest::collection::vec(cursor(), 1..5),
            next in cursor(),
            after in cursor(),
            tear in tear(),
        ) {
            let mut file = Vec::new();
            let mut previous = "";
            for c in &history {
                let current = (!file.is_empty()).then_some(file.as_slice());
                match plan(current, c) {
                    Plan::Replace(new) => file = new,
                    Plan::InPlace { offset, bytes } => apply(&mut file, offset, &bytes, bytes.len()),
                }
                previous = c;
            }
            let write = plan(Some(&file), &next);
            let crashed = crash(&file, &write, &tear);
            let read = decode(&crashed).map(|d| d.cursor().to_owned());
            prop_assert!(
                read.as_deref() == Ok(previous) || read.as_deref() == Ok(next.as_str()),
                "{read:?}, previous {previous:?}, next {next:?}"
            );
            let mut healed = crashed.clone();
            match plan(Some(&crashed), &after) {
                Plan::Replace(new) => healed = new,
                Plan::InPlace { offset, bytes } => apply(&mut healed, offset, &bytes, bytes.len()),
            }
            prop_assert_eq!(decode(&healed).map(|d| d.cursor()), Ok(after.as_str()));
        }

        /// Damage to one slot (a bad sector, a stray write) leaves the
        /// other's cursor; damage to both is an error, never a cursor
        /// nobody wrote.
        #[test]
        fn damage_never_invents_a_cursor(
            a in cursor(),
            b in cursor(),
            hits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            both in any::<bool>(),
        ) {
            let slot_len = slot_len_for(if a.len() > b.len() { &a } else { &b });
            let mut file = encode_slot(&a, 1, slot_len).unwrap_or_default();
            file.extend(encode_slot(&b, 2, slot_len).unwrap_or_default());
            let half = slot_len;
            prop_assert_eq!(file.len(), 2 * half);
            let original = file.clone();
            for (i, (at, value)) in hits.iter().enumerate() {
                let first_half = !both || i % 2 == 0;
                let index = at % half + if first_half { 0 } else { half };
                file[index] = *value;
            }
            let damaged = |range: std::ops::Range<usize>| file[range.clone()] != original[range];
            match decode(&file) {
                Ok(d) => {
                    let c = d.cursor();
                    prop_assert!(c == a || c == b, "{c:?}");
                    prop_assert!(!(damaged(0..half) && damaged(half..file.len())));
                }
                Err(problem) => {
                    prop_assert!(damaged(0..half) && damaged(half..file.len()), "{problem}");
                }
            }
        }

        #[test]
        fn any_bytes_decode_without_panicking(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(d) = decode(&raw) {
                prop_assert!(valid_cursor(d.cursor()));
            }
        }
    }
}
