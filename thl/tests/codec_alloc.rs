//! Decoding never allocates more than the input justifies: a counting global
//! allocator records the largest single allocation while malicious inputs
//! (huge lengths and counts) are decoded. This file holds one test so that no
//! other test allocates concurrently.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use thl::codec::{decode_body, encode_body};
use thl::event::{Change, EventBody, RowAction, RowChanges, RowImage, Value};

/// The system allocator, recording the largest allocation request.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees hold; the only addition is an atomic counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Largest single allocation made while running `f`.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::SeqCst);
    f();
    LARGEST.load(Ordering::SeqCst)
}

#[test]
fn malicious_lengths_and_counts_allocate_little() {
    let cases: [&[u8]; 6] = [
        // Metadata name of u32::MAX bytes.
        &[1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, b'a'],
        // Metadata count of u64::MAX.
        &[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        // Change count of 2^32.
        &[1, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 2, 3],
        // Row count of 2^28.
        &[1, 0, 1, 2, 0, 0, 1, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0],
        // Before image of 2^28 values.
        &[1, 0, 1, 2, 0, 0, 1, 0, 0, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x01, 0],
        // Value::Bytes of 1 GiB.
        &[
            1, 0, 1, 2, 0, 0, 1, 0, 0, 0, 1, 1, 0x0e, 0x80, 0x80, 0x80, 0x80, 0x04, 0,
        ],
    ];
    for bytes in cases {
        let largest = largest_allocation(|| assert!(decode_body(bytes).is_err()));
        assert!(largest < 1024, "{bytes:02x?}: allocated {largest} bytes");
    }

    // A valid 1 MiB blob allocates about 1 MiB for it, not a multiple.
    let body = EventBody {
        metadata: vec![],
        changes: vec![Change::Rows(RowChanges {
            schema: "s".into(),
            table: "t".into(),
            action: RowAction::Insert,
            columns: vec![],
            before_columns: vec![],
            after_columns: vec![0],
            flags: thl::event::RowFlags::default(),
            rows: vec![RowImage {
                before: vec![],
                after: vec![Value::Bytes(vec![7; 1 << 20])],
            }],
        })],
    };
    let mut bytes = Vec::new();
    encode_body(&body, &mut bytes);
    let largest = largest_allocation(|| assert!(decode_body(&bytes).is_ok_and(|b| b == body)));
    assert_eq!(largest, 1 << 20);
}
