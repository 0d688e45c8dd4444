/* glibc's allocator settings, for the CLI's start (Sources/dossier/Dossier.swift, tuneAllocator).
 * <malloc.h> is not part of Swift's Glibc module, so mallopt is reached through this header. */
#ifndef DOSSIER_ALLOCATOR_H
#define DOSSIER_ALLOCATOR_H

/* Keeps up to `trim` bytes free at the top of each heap before giving memory back to the kernel,
 * and maps alone only blocks of at least `mmap_threshold` bytes. Returns 1 when both were set, 0
 * when the C library is not glibc or refused a value. */
int dossier_tune_allocator(int trim, int mmap_threshold);

#endif
