import CSpladeMath

public enum FreedMemory {
    /// A training step allocates its activations and gradients anew (hundreds of MiB for BERT-base), and glibc maps
    /// each block above its mmap threshold afresh and unmaps it when freed, or trims the heap's freed top: every step
    /// then paid page faults and the kernel's zeroing of each page, a third of a BERT-base step on the CPU. Kept in
    /// the heap instead, the blocks one step frees serve the next; the peak stays about the same (it varies a little
    /// with the heap's layout). For the whole process.
    public static func keepForReuse() {
        splade_keep_freed_memory()
    }
}
