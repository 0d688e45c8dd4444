#include "CPhoneNumber.h"
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <phonenumbers/phonenumberutil.h>

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

extern "C" int dossier_phone_e164(const char *input, const char *region, char *out, size_t out_size) {
    if (input == nullptr || region == nullptr || out == nullptr) return 0;
    const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    if (util->Parse(std::string(input), std::string(region), &number) != PhoneNumberUtil::NO_PARSING_ERROR) {
        return 0;
    }
    if (!util->IsPossibleNumber(number)) return 0;
    std::string formatted;
    util->Format(number, PhoneNumberUtil::E164, &formatted);
    // An extension tells apart the people behind one switchboard: kept, as RFC 3966 writes it.
    if (number.has_extension() && !number.extension().empty()) formatted += ";ext=" + number.extension();
    if (formatted.size() + 1 > out_size) return -1;
    std::memcpy(out, formatted.c_str(), formatted.size() + 1);
    return static_cast<int>(formatted.size());
}

extern "C" int dossier_phone_library(char *out, size_t out_size) {
    if (out == nullptr) return 0;
    Dl_info info;
    // An address inside libphonenumber: its singleton's accessor.
    PhoneNumberUtil *(*accessor)() = &PhoneNumberUtil::GetInstance;
    if (dladdr(reinterpret_cast<void *>(accessor), &info) == 0 || info.dli_fname == nullptr) return 0;
    size_t n = std::strlen(info.dli_fname);
    if (n + 1 > out_size) return -1;
    std::memcpy(out, info.dli_fname, n + 1);
    return static_cast<int>(n);
}
