#include "dossier_allocator.h"

/* Any C library header defines __GLIBC__ on glibc (through <features.h>). */
#include <stdlib.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int dossier_tune_allocator(int trim, int mmap_threshold) {
#if defined(__GLIBC__)
    return mallopt(M_TRIM_THRESHOLD, trim) == 1 && mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1;
#else
    (void)trim;
    (void)mmap_threshold;
    return 0;
#endif
}
