#ifndef DOSSIER_CPHONENUMBER_H
#define DOSSIER_CPHONENUMBER_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Parses `input` with libphonenumber, reading numbers without a country code as `region`
/// (ISO 3166 alpha-2), and writes the E.164 form into `out`.
/// Returns the length written, 0 when the input is not a phone number, -1 when `out` is too small.
int dossier_phone_e164(const char *input, const char *region, char *out, size_t out_size);

/// The path of the file libphonenumber's code was loaded from (the shared library, or this
/// program when it is linked in), written into `out`. Returns its length, 0 when unknown, -1 when
/// `out` is too small. What a cache of normalised phones is stamped with.
int dossier_phone_library(char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
