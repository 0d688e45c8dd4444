#!/usr/bin/env python3
"""Writes examples.tsv: every region's example numbers (Google's libphonenumber metadata, through
PyPI's `phonenumbers`) written the ways people write them, one `REGION<TAB>TEXT` a line, for
NormalizerTests.phoneTailAgreesWithLibphonenumber: a text read in REGION by Debian's libphonenumber
must normalise to a number whose last digits are the text's (StandardNormalizer.phoneTail).

    .build-venv/bin/python Tests/Fixtures/phones/generate.py

Deterministic: the same phonenumbers version writes the same file (its version is the first line).
"""
import os
import phonenumbers
from phonenumbers import PhoneNumberFormat as F, PhoneNumberType as T

TYPES = [T.FIXED_LINE, T.MOBILE, T.TOLL_FREE, T.PREMIUM_RATE, T.SHARED_COST, T.VOIP,
         T.PERSONAL_NUMBER, T.PAGER, T.UAN, T.VOICEMAIL]
CALLING_FROM = ["US", "PL", "BR", "AU"]


def writings(text):
    """The text, and with its separators changed: hyphens, dots, none."""
    out = [text, text.replace(" ", "-"), text.replace(" ", ".").replace("-", "."),
           "".join(c for c in text if c.isdigit() or c == "+")]
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    lines = set()
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for t in TYPES:
            n = phonenumbers.example_number_for_type(region, t)
            if n is None:
                continue
            texts = [phonenumbers.format_number(n, F.E164), phonenumbers.format_number(n, F.INTERNATIONAL),
                     phonenumbers.format_number(n, F.NATIONAL), phonenumbers.national_significant_number(n)]
            texts += [phonenumbers.format_out_of_country_calling_number(n, c) for c in CALLING_FROM]
            # With a carrier code, where the region dials one (Brazil's "0 15 (11) …", Colombia's).
            texts += [phonenumbers.format_national_number_with_carrier_code(n, c) for c in ("15", "21")]
            if phonenumbers.format_number(n, F.NATIONAL).startswith("0"):
                # "+44 (0) 20 …": the national prefix written after the country code.
                texts.append("+%d (0) %s" % (n.country_code, phonenumbers.national_significant_number(n)))
            for text in texts:
                for w in writings(text):
                    lines.add((region, w))
    with open(os.path.join(here, "examples.tsv"), "w", encoding="utf-8") as f:
        f.write("# phonenumbers %s: region, text (Tests/Fixtures/phones/generate.py)\n" % phonenumbers.__version__)
        for region, text in sorted(lines):
            f.write("%s\t%s\n" % (region, text))


if __name__ == "__main__":
    main()
