//! The command line's global allocator: mimalloc, asked for alignment only when a layout
//! needs more than every block has.
//!
//! A request allocates and frees many small objects, and glibc's bookkeeping of them was
//! a tenth of a kept-alive request's CPU. The `mimalloc` crate's allocator passes every
//! layout to `mi_malloc_aligned`, whose checks and slower path for blocks over 1 KiB cost
//! more than `mi_malloc` for the alignment of nearly all Rust values, 8 or less, which
//! every mimalloc block has (block sizes are multiples of a word; `mi_realloc_aligned`
//! relies on the same and skips its own checks at that alignment).

#![allow(unsafe_code)] // a global allocator is an unsafe trait over C calls

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};

/// The alignment of every block mimalloc hands out.
const BLOCK_ALIGN: usize = std::mem::size_of::<usize>();

pub(crate) struct MiMalloc;

// SAFETY: mimalloc's functions meet GlobalAlloc's contract for the layouts passed: those
// of at most BLOCK_ALIGN by the plain calls, the rest by the aligned ones.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain C allocation calls; null on failure, as GlobalAlloc expects.
        unsafe {
            if layout.align() <= BLOCK_ALIGN {
                mi_malloc(layout.size()).cast()
            } else {
                mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if layout.align() <= BLOCK_ALIGN {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract).
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout` (GlobalAlloc's contract).
        unsafe {
            if layout.align() <= BLOCK_ALIGN {
                mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every alignment up to a page, small to huge sizes (mimalloc's huge blocks are over
    /// 512 KiB), grown and shrunk: each block is aligned as asked and keeps its bytes.
    #[test]
    fn blocks_are_aligned_as_asked_and_keep_their_bytes() {
        for align in (0..=12).map(|shift| 1usize << shift) {
            for size in [1, 7, 8, 24, 100, 1000, 1025, 5000, 70_000, 1 << 20] {
                let size = size.max(align);
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; each block is freed once, by this allocator.
                unsafe {
                    let zeroed = MiMalloc.alloc_zeroed(layout);
                    assert!(!zeroed.is_null());
                    assert_eq!(zeroed as usize % align, 0, "{layout:?} zeroed");
                    assert!(
                        std::slice::from_raw_parts(zeroed, size)
                            .iter()
                            .all(|b| *b == 0)
                    );
                    MiMalloc.dealloc(zeroed, layout);

                    // Several at once, so that they cannot all share one lucky address.
                    let held: Vec<_> = (0..8).map(|_| MiMalloc.alloc(layout)).collect();
                    for block in &held {
                        assert_eq!(*block as usize % align, 0, "{layout:?}");
                    }
                    held.iter()
                        .for_each(|block| MiMalloc.dealloc(*block, layout));

                    let mut block = MiMalloc.alloc(layout);
                    std::ptr::write_bytes(block, 0xa5, size);
                    // Grown, shrunk below the first size, grown to a huge block: the
                    // first bytes stay.
                    let mut current = layout;
                    for new_size in [size * 3, size / 2 + 1, size + (1 << 20)] {
                        block = MiMalloc.realloc(block, current, new_size);
                        assert_eq!(block as usize % align, 0, "{layout:?} to {new_size}");
                        let kept = std::slice::from_raw_parts(block, size / 2 + 1);
                        assert!(kept.iter().all(|b| *b == 0xa5), "{layout:?} to {new_size}");
                        current = Layout::from_size_align(new_size, align).unwrap();
                    }
                    MiMalloc.dealloc(block, current);
                }
            }
        }
    }
}
