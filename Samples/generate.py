#!/usr/bin/env python3
"""Generate Dossier's bundled sample sources (deterministic, standard library only).

    python3 Samples/generate.py      # rewrites the files below, byte for byte the same every run
    python3 Samples/build.py         # then builds Samples/crm/crm.sqlite from crm/crm.sql

Writes, relative to this script's folder:
    crm/crm.sql                 SQLite CRM as a SQL script (tables, indexes, rows)
    mailing/subscribers.csv     Mailchimp-style audience export
    training/events.jsonl       training system event log (enrolment, attendance, certificate,
                                invoice, invoice_line records, told apart by "type")
    contests/entries.xml        contests with their entries and winners

No clock, no environment: a fixed seed and fixed dates, so the output depends on nothing but this
file. The hard cases the tests rely on (contact 17, her namesake 117, her referrer 18, an address
found nowhere) are written out explicitly below; everyone else is generated.
"""

import datetime as dt
import hashlib
import json
import os
import random
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240517
rng = random.Random(SEED)

# An address that must occur in no source. Spelled in two parts so that not even this script
# contains it, and checked at the end.
ABSENT_EMAIL = "nobody" + "@" + "example.net"

# ---------------------------------------------------------------------------------------------
# Names and places
# ---------------------------------------------------------------------------------------------

PL_FEMALE = ["Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Krystyna",
             "Magdalena", "Elżbieta", "Joanna", "Aleksandra", "Monika", "Teresa", "Danuta",
             "Natalia", "Julia", "Karolina", "Marta", "Beata", "Dorota", "Jadwiga", "Halina",
             "Iwona", "Grażyna", "Urszula", "Paulina", "Justyna", "Łucja", "Weronika", "Zofia"]
PL_MALE = ["Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Jan", "Michał", "Marcin",
           "Stanisław", "Jakub", "Adam", "Marek", "Łukasz", "Grzegorz", "Mateusz", "Wojciech",
           "Mariusz", "Dariusz", "Zbigniew", "Jerzy", "Maciej", "Rafał", "Kamil", "Szymon",
           "Bartłomiej", "Przemysław", "Józef", "Sławomir", "Jędrzej"]
# (masculine, feminine) surname forms
PL_SURNAMES = [("Nowak", "Nowak"), ("Kowalski", "Kowalska"), ("Wiśniewski", "Wiśniewska"),
               ("Wójcik", "Wójcik"), ("Kowalczyk", "Kowalczyk"), ("Kamiński", "Kamińska"),
               ("Lewandowski", "Lewandowska"), ("Zieliński", "Zielińska"),
               ("Szymański", "Szymańska"), ("Woźniak", "Woźniak"), ("Dąbrowski", "Dąbrowska"),
               ("Kozłowski", "Kozłowska"), ("Jankowski", "Jankowska"), ("Mazur", "Mazur"),
               ("Wojciechowski", "Wojciechowska"), ("Kwiatkowski", "Kwiatkowska"),
               ("Krawczyk", "Krawczyk"), ("Kaczmarek", "Kaczmarek"), ("Piotrowski", "Piotrowska"),
               ("Grabowski", "Grabowska"), ("Zając", "Zając"), ("Pawłowski", "Pawłowska"),
               ("Michalski", "Michalska"), ("Król", "Król"), ("Wieczorek", "Wieczorek"),
               ("Jabłoński", "Jabłońska"), ("Wróbel", "Wróbel"), ("Majewski", "Majewska"),
               ("Olszewski", "Olszewska"), ("Stępień", "Stępień"), ("Malinowski", "Malinowska"),
               ("Jaworski", "Jaworska"), ("Adamczyk", "Adamczyk"), ("Dudek", "Dudek"),
               ("Pająk", "Pająk"), ("Gołębiowski", "Gołębiowska"), ("Żak", "Żak"),
               ("Ślusarczyk", "Ślusarczyk"), ("Łuczak", "Łuczak"), ("Chmielewski", "Chmielewska"),
               ("Sęk", "Sęk"), ("Nowicki", "Nowicka"), ("Górski", "Górska"), ("Błaszczyk", "Błaszczyk")]
PL_CITIES = [("Warszawa", "MZ", 52.2297, 21.0122), ("Kraków", "MA", 50.0647, 19.9450),
             ("Łódź", "LD", 51.7592, 19.4560), ("Wrocław", "DS", 51.1079, 17.0385),
             ("Poznań", "WP", 52.4064, 16.9252), ("Gdańsk", "PM", 54.3520, 18.6466),
             ("Szczecin", "ZP", 53.4285, 14.5528), ("Lublin", "LU", 51.2465, 22.5684),
             ("Białystok", "PD", 53.1325, 23.1688), ("Katowice", "SL", 50.2649, 19.0238),
             ("Rzeszów", "PK", 50.0412, 21.9991), ("Toruń", "KP", 53.0138, 18.5984),
             ("Kielce", "SK", 50.8661, 20.6286), ("Olsztyn", "WN", 53.7784, 20.4801),
             ("Zielona Góra", "LB", 51.9356, 15.5062), ("Opole", "OP", 50.6751, 17.9213)]
PL_LANDLINE_AREA = {"Warszawa": "22", "Kraków": "12", "Łódź": "42", "Wrocław": "71",
                    "Poznań": "61", "Gdańsk": "58", "Szczecin": "91", "Lublin": "81",
                    "Białystok": "85", "Katowice": "32", "Rzeszów": "17", "Toruń": "56",
                    "Kielce": "41", "Olsztyn": "89", "Zielona Góra": "68", "Opole": "77"}
PL_MOBILE_PREFIX = ["501", "502", "503", "504", "505", "506", "507", "508", "509", "510", "511",
                    "512", "513", "514", "515", "516", "517", "518", "519", "530", "531", "532",
                    "533", "534", "535", "536", "537", "538", "539", "570", "571", "572", "573",
                    "600", "602", "603", "604", "605", "606", "607", "608", "609", "660", "661",
                    "662", "663", "664", "665", "666", "667", "668", "669", "690", "691", "692",
                    "693", "694", "695", "696", "697", "698", "720", "721", "722", "723", "724",
                    "725", "726", "727", "728", "729", "730", "731", "732", "733", "734", "735",
                    "780", "781", "782", "783", "784", "785", "786", "787", "788", "789", "790",
                    "791", "792", "793", "794", "795", "796", "797", "798", "799", "880", "881",
                    "882", "883", "884", "885", "886", "887", "888", "889"]

# Foreign people: (country code, first names, last names, cities with region, lat, lon, tz)
FOREIGN = {
    "DE": (["Jürgen", "Björn", "Anke", "Sören", "Käthe", "Uwe", "Lena", "Jörg", "Frauke"],
           ["Müller", "Schäfer", "Weiß", "Groß", "Köhler", "Schröder", "Hoffmann", "Bäcker"],
           [("Berlin", "BE", 52.5200, 13.4050), ("Stuttgart", "BW", 48.7758, 9.1829),
            ("München", "BY", 48.1351, 11.5820), ("Hamburg", "HH", 53.5511, 9.9937)],
           "Europe/Berlin"),
    "CZ": (["Jiří", "Petra", "Lucie", "Tomáš", "Kateřina", "Ondřej", "Zdeněk"],
           ["Dvořák", "Nováková", "Černá", "Procházka", "Kučerová", "Veselý", "Šťastný"],
           [("Praha", "10", 50.0755, 14.4378), ("Brno", "64", 49.1951, 16.6068),
            ("Ostrava", "80", 49.8209, 18.2625)],
           "Europe/Prague"),
    "UA": (["Olena", "Dmytro", "Oksana", "Andrii", "Iryna", "Bohdan"],
           ["Kovalenko", "Shevchenko", "Bondarenko", "Tkachenko", "Kravchenko", "Melnyk"],
           [("Kyiv", "30", 50.4501, 30.5234), ("Lviv", "46", 49.8397, 24.0297)],
           "Europe/Kyiv"),
    "FR": (["Hélène", "François", "Amélie", "Jérôme", "Cécile"],
           ["Girard", "Lefèvre", "Bérenger", "Mercier", "Duprés"],
           [("Paris", "IDF", 48.8566, 2.3522), ("Lyon", "ARA", 45.7640, 4.8357)],
           "Europe/Paris"),
    "ES": (["José", "María", "Iñaki", "Begoña", "Álvaro"],
           ["Muñoz", "García", "Núñez", "Ibáñez", "Peña"],
           [("Madrid", "MD", 40.4168, -3.7038), ("Bilbao", "PV", 43.2630, -2.9350)],
           "Europe/Madrid"),
    "NO": (["Bjørn", "Åse", "Søren", "Ingrid"],
           ["Hansen", "Sørensen", "Øverli", "Haugen"],
           [("Oslo", "03", 59.9139, 10.7522), ("Bergen", "46", 60.3913, 5.3221)],
           "Europe/Oslo"),
    "GB": (["Siobhán", "Oliver", "Amelia", "Rhys"],
           ["O'Brien", "Smith", "Evans", "McAllister"],
           [("London", "ENG", 51.5074, -0.1278), ("Cardiff", "WLS", 51.4816, -3.1791)],
           "Europe/London"),
}
FOREIGN_ORDER = ["DE", "CZ", "UA", "FR", "ES", "NO", "GB"]
CALLING_CODE = {"PL": "48", "DE": "49", "CZ": "420", "UA": "380", "FR": "33", "ES": "34",
                "NO": "47", "GB": "44"}

STREETS = ["ul. Marszałkowska", "ul. Grochowska", "al. Jana Pawła II", "ul. Piotrkowska",
           "ul. Długa", "ul. Świętokrzyska", "ul. Zielona", "ul. Kościuszki", "ul. Żeromskiego",
           "ul. Łąkowa", "ul. Słoneczna", "os. Przyjaźni", "ul. Wólczańska"]
EMAIL_DOMAINS = ["example.com", "example.org", "example.pl", "poczta.example.pl",
                 "mail.example.com", "skrzynka.example.pl", "example.net"]
COMPANIES = ["Baltic Logistics Sp. z o.o.", "Mazowieckie Centrum Usług Wspólnych Sp. z o.o.",
             "Kadry-Plus Sp. z o.o.", "Softwarehaus Wrocław S.A.", "Bank Spółdzielczy w Łomży",
             "O'Neill Consulting Polska Sp. z o.o.", "Żabka Logistyka Sp. z o.o.",
             "Fabryka Mebli \"Dąb\" S.A.", "Telemedica Polska Sp. z o.o.",
             "Grupa Budowlana Ślęża Sp. k.", "Nordic Shared Services Sp. z o.o.",
             "AgroTech Lubelszczyzna Sp. z o.o.", "We'Support (rekrutacja wewnętrzna)"]
POSITIONS = ["Specjalista ds. kadr i płac", "Księgowa / Księgowy", "Programista Java",
             "Tester oprogramowania", "Analityk danych", "Administrator systemów",
             "Kierownik projektu IT", "Specjalista ds. rekrutacji", "Konsultant SAP FI/CO",
             "Asystentka zarządu", "Przedstawiciel handlowy", "Specjalista ds. marketingu",
             "Inżynier DevOps", "Helpdesk L1", "Controller finansowy", "Frontend Developer (React)"]
SOURCES = ["formularz_www", "linkedin", "polecenie", "targi_pracy", "import_csv", "szkolenie",
           "facebook"]
AGENTS = ["a.kaczmarek", "m.lis", "p.majdan", "k.borowska", "j.sadowski", "e.pietrzak"]
APP_STATUS = ["nowa", "w toku", "rozmowa z klientem", "odrzucona", "oferta", "zatrudniona",
              "wycofana przez kandydata"]
SEGMENTS = ["it_developer_mid", "it_developer_senior", "finanse_ksiegowosc", "kadry_i_place",
            "kadry_i_place_senior", "sprzedaz_b2b", "administracja_biuro", "logistyka",
            "szkolenia_excel_zainteresowani", "marketing_cyfrowy"]

COURSES = [
    ("EXL-ADV", "Excel dla zaawansowanych", 2, "1000.00", "23"),
    ("PM-PRINCE2", "PRINCE2® Foundation z egzaminem", 3, "2200.00", "zw"),
    ("KiP-2024", "Kadry i płace w praktyce — zmiany 2024", 2, "950.00", "zw"),
    ("SQL-BI", "SQL i Power BI dla analityków", 3, "1800.00", "23"),
    ("AGILE-SM", "Scrum Master — warsztaty", 2, "1400.00", "23"),
    ("RODO-IOD", "RODO dla inspektorów ochrony danych", 1, "690.00", "zw"),
    ("WEB-REKR", "Webinar: rekrutacja w IT (bezpłatny)", 1, "0.00", "zw"),
]
SKILLS = {"EXL-ADV": ["Power Query", "tabele przestawne", "VBA", "formuły tablicowe"],
          "PM-PRINCE2": ["zarządzanie ryzykiem", "planowanie", "business case", "etapy projektu"],
          "KiP-2024": ["prawo pracy", "ZUS i PIT", "PPK", "ewidencja czasu pracy"],
          "SQL-BI": ["SQL", "DAX", "modelowanie danych", "Power BI"],
          "AGILE-SM": ["facylitacja", "Scrum", "retrospektywy", "Kanban"],
          "RODO-IOD": ["RODO", "rejestr czynności", "DPIA", "naruszenia ochrony danych"],
          "WEB-REKR": ["rekrutacja IT", "employer branding", "sourcing", "ATS"]}
PARTNERS = ["Centrum Egzaminacyjne Certis Sp. z o.o.", "Akademia Kompetencji Cyfrowych",
            "We'Support Training"]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE",
                      "đ": "d", "'": ""})


def ascii_fold(s):
    s = s.translate(FOLD)
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


EPOCH = dt.datetime(2019, 1, 1)


def ts(lo="2019-01-01", hi="2025-10-31"):
    """A random 'YYYY-MM-DD HH:MM:SS' (UTC) between two dates."""
    a = dt.datetime.fromisoformat(lo)
    b = dt.datetime.fromisoformat(hi)
    t = a + dt.timedelta(seconds=rng.randrange(int((b - a).total_seconds())))
    return t.strftime("%Y-%m-%d %H:%M:%S")


LATEST = dt.datetime(2025, 10, 31, 23, 59, 59)   # nothing in the samples happens after this


def after(t, min_s, max_s):
    """A random time min_s..max_s seconds after t (negative: before), never after LATEST."""
    base = dt.datetime.strptime(t, "%Y-%m-%d %H:%M:%S")
    r = rng.randint(min_s, max_s)
    return min(base + dt.timedelta(seconds=r), LATEST).strftime("%Y-%m-%d %H:%M:%S")


def iso(t):
    """'YYYY-MM-DD HH:MM:SS' -> 'YYYY-MM-DDTHH:MM:SSZ'."""
    return t.replace(" ", "T") + "Z"


def ip4():
    net = rng.choice(["192.0.2.", "198.51.100.", "203.0.113."])
    return net + str(rng.randint(1, 254))


def ip_any():
    if rng.random() < 0.12:
        return "2001:db8:%x:%x::%x" % (rng.randint(1, 0xffff), rng.randint(1, 0xffff),
                                        rng.randint(1, 0xfff))
    return ip4()


def nip():
    while True:
        d = [rng.randint(0, 9) for _ in range(9)]
        if d[0] == 0:
            continue
        c = sum(w * x for w, x in zip([6, 5, 7, 2, 3, 4, 5, 6, 7], d)) % 11
        if c != 10:
            return "".join(map(str, d)) + str(c)


USED_EMAILS = set()
USED_PHONES = set()


def claim_email(addr):
    key = addr.strip().lower()
    assert key not in USED_EMAILS, key
    USED_EMAILS.add(key)
    return addr


def claim_phone(cc, nsn):
    key = "+" + cc + nsn
    assert key not in USED_PHONES, key
    USED_PHONES.add(key)
    return (cc, nsn)


def make_email(first, last):
    f, l = ascii_fold(first).lower(), ascii_fold(last).lower().replace(" ", "")
    for attempt in range(50):
        pattern = rng.randrange(5)
        if pattern == 0:
            local = f + "." + l
        elif pattern == 1:
            local = f[0] + "." + l
        elif pattern == 2:
            local = f + l + str(rng.randint(70, 99))
        elif pattern == 3:
            local = l + "." + f
        else:
            local = f + "_" + l[:4] + str(rng.randint(1, 9))
        if attempt:
            local += str(attempt)
        addr = local + "@" + rng.choice(EMAIL_DOMAINS)
        if addr not in USED_EMAILS and addr != ABSENT_EMAIL and not addr.startswith("zofia.wisniewska@") \
                and not addr.startswith("zosia.w@"):
            return claim_email(addr)
    raise RuntimeError("no e-mail")


def as_typed(addr):
    """An e-mail as a person might have typed it (ASCII case changes only)."""
    r = rng.random()
    if r < 0.6:
        return addr
    local, domain = addr.split("@")
    if r < 0.8:
        return ".".join(p[:1].upper() + p[1:] for p in local.split(".")) + "@" + domain
    if r < 0.9:
        return local + "@" + domain.title()
    return addr.upper()


def make_phone(country, city=None):
    cc = CALLING_CODE[country]
    for _ in range(100):
        if country == "PL":
            if city in PL_LANDLINE_AREA and rng.random() < 0.2:
                nsn = PL_LANDLINE_AREA[city] + str(rng.randint(2, 8)) + "%06d" % rng.randrange(10 ** 6)
            else:
                nsn = rng.choice(PL_MOBILE_PREFIX) + "%06d" % rng.randrange(10 ** 6)
        elif country == "DE":
            nsn = rng.choice(["151", "160", "170", "171", "176"]) + "%08d" % rng.randrange(10 ** 8)
            if rng.random() < 0.4:
                nsn = rng.choice(["30", "711", "89", "40"])
                nsn += "%07d" % rng.randrange(10 ** 7)
        elif country == "CZ":
            nsn = rng.choice(["2", "603", "604", "605", "731", "777"])
            nsn += "%0*d" % (9 - len(nsn), rng.randrange(10 ** (9 - len(nsn))))
        elif country == "UA":
            nsn = rng.choice(["67", "50", "63", "93"]) + "%07d" % rng.randrange(10 ** 7)
        elif country == "FR":
            nsn = rng.choice(["6", "7"]) + "%08d" % rng.randrange(10 ** 8)
        elif country == "ES":
            nsn = "6" + "%08d" % rng.randrange(10 ** 8)
        elif country == "NO":
            nsn = rng.choice(["4", "9"]) + "%07d" % rng.randrange(10 ** 7)
        else:  # GB: Ofcom's drama range 07700 900000-900999
            nsn = "7700900" + "%03d" % rng.randrange(1000)
        if "+" + cc + nsn not in USED_PHONES:
            return claim_phone(cc, nsn)
    raise RuntimeError("no phone")


def pl_groups(nsn):
    if nsn[:2] in PL_LANDLINE_AREA.values() and nsn[:3] not in PL_MOBILE_PREFIX:
        return [nsn[:2], nsn[2:5], nsn[5:7], nsn[7:]], True
    return [nsn[:3], nsn[3:6], nsn[6:]], False


def render_phone(phone, style=None):
    """The same number written the way people write it. Every form parses (libphonenumber,
    default region PL) to +<cc><nsn>."""
    cc, nsn = phone
    if cc == "48":
        groups, landline = pl_groups(nsn)
        styles = ["intl", "idd_dash", "plain", "national", "e164", "dash"]
        style = style or rng.choice(styles)
        if style == "intl":
            return "+48 " + " ".join(groups)
        if style == "idd_dash":
            return "0048 " + groups[0] + " " + "-".join(groups[1:])
        if style == "plain":
            return nsn
        if style == "national":
            return ("(%s) " % groups[0] + " ".join(groups[1:])) if landline else " ".join(groups)
        if style == "e164":
            return "+48" + nsn
        return "-".join(groups)
    if cc == "49":
        area_len = 3 if nsn[:1] == "1" or nsn[:3] == "711" else 2
        area, sub = nsn[:area_len], nsn[area_len:]
        return rng.choice(["+49 %s %s" % (area, sub), "+49 (0)%s %s" % (area, sub),
                           "+49 0%s %s" % (area, sub), "0049 %s %s" % (area, sub),
                           "+49%s" % nsn])
    if cc == "420":
        if nsn[0] == "2":
            return rng.choice(["+420 2 %s %s" % (nsn[1:5], nsn[5:]),
                               "+420 %s %s %s" % (nsn[:3], nsn[3:6], nsn[6:])])
        return rng.choice(["+420 %s %s %s" % (nsn[:3], nsn[3:6], nsn[6:]),
                           "00420 %s %s %s" % (nsn[:3], nsn[3:6], nsn[6:]),
                           "+420%s" % nsn])
    if cc == "380":
        return rng.choice(["+380 %s %s %s" % (nsn[:2], nsn[2:5], nsn[5:]),
                           "+380 (%s) %s-%s-%s" % (nsn[:2], nsn[2:5], nsn[5:7], nsn[7:])])
    if cc == "33":
        pairs = " ".join(nsn[i:i + 2] for i in range(1, 9, 2))
        return rng.choice(["+33 %s %s" % (nsn[0], pairs), "+33 (0)%s %s" % (nsn[0], pairs)])
    if cc == "34":
        return "+34 %s %s %s" % (nsn[:3], nsn[3:6], nsn[6:])
    if cc == "47":
        return rng.choice(["+47 %s %s %s" % (nsn[:3], nsn[3:5], nsn[5:]), "0047 %s" % nsn])
    return rng.choice(["+44 %s %s" % (nsn[:4], nsn[4:]), "+44 (0)%s %s" % (nsn[:4], nsn[4:])])


def sha256_hex(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------------------------

class Person:
    def __init__(self, first, last, email, phone, city, region, lat, lon, country, tz,
                 crm_id=None):
        self.first, self.last = first, last
        self.email = email            # canonical (lower-case, trimmed)
        self.phone = phone            # (calling code, national significant number) or None
        self.city, self.region, self.lat, self.lon = city, region, lat, lon
        self.country, self.tz = country, tz
        self.crm_id = crm_id

    @property
    def name(self):
        return self.first + " " + self.last


def random_person(crm_id=None, email=True, phone=True):
    if rng.random() < 0.8:
        country = "PL"
        female = rng.random() < 0.55
        while True:
            first = rng.choice(PL_FEMALE if female else PL_MALE)
            last = rng.choice(PL_SURNAMES)[1 if female else 0]
            if (first, last) != ("Zofia", "Wiśniewska"):   # only contacts 17 and 117 have that name
                break
        city, region, lat, lon = rng.choice(PL_CITIES)
        tz = "Europe/Warsaw"
    else:
        country = rng.choice(FOREIGN_ORDER)
        firsts, lasts, cities, tz = FOREIGN[country]
        first, last = rng.choice(firsts), rng.choice(lasts)
        city, region, lat, lon = rng.choice(cities)
    addr = make_email(first, last) if email else None
    ph = make_phone(country, city) if phone else None
    return Person(first, last, addr, ph, city, region, lat, lon, country, tz, crm_id)


# The hard cases, fixed. Their identifiers are claimed before anything random is drawn.
ZOFIA = Person("Zofia", "Wiśniewska", claim_email("zofia.wisniewska@example.pl"),
               claim_phone("48", "221228617"), "Warszawa", "MZ", 52.2297, 21.0122, "PL",
               "Europe/Warsaw", 17)
ZOFIA_SECOND_EMAIL = claim_email("zosia.w@example.com")
ZOFIA_OLD_EMAIL = claim_email("z.wisniewska@kadry-plus.example.pl")
TOMASZ = Person("Tomasz", "Nowicki", claim_email("tomasz.nowicki@example.pl"),
                claim_phone("48", "502118443"), "Warszawa", "MZ", 52.2297, 21.0122, "PL",
                "Europe/Warsaw", 18)
NAMESAKE = Person("Zofia", "Wiśniewska", claim_email("zofia.wisniewska@example.org"),
                  claim_phone("48", "601200300"), "Kraków", "MA", 50.0647, 19.9450, "PL",
                  "Europe/Warsaw", 117)
NAMESAKE_SECOND_EMAIL = claim_email("zosia.krakow@example.org")
claim_email(ABSENT_EMAIL)   # never handed out

CRM_SIZE = 240
crm_people = []
for cid in range(1, CRM_SIZE + 1):
    if cid == 17:
        crm_people.append(ZOFIA)
    elif cid == 18:
        crm_people.append(TOMASZ)
    elif cid == 117:
        crm_people.append(NAMESAKE)
    else:
        # a few contacts came in by phone only, a few left no phone
        p = random_person(cid, email=cid % 53 != 0, phone=cid % 19 != 0)
        crm_people.append(p)
by_id = {p.crm_id: p for p in crm_people}
mailing_only = [random_person(phone=rng.random() < 0.3) for _ in range(35)]
contest_only = [random_person() for _ in range(25)]
external_referrers = [random_person() for _ in range(15)]   # appear only inside referrals


# ---------------------------------------------------------------------------------------------
# CRM
# ---------------------------------------------------------------------------------------------

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082")

crm = {t: [] for t in ["contacts", "contact_emails", "applications", "referrals", "consents",
                       "interactions", "profiling_segments"]}


def add(table, row):
    row = dict(row)
    row_id = len(crm[table]) + 1
    crm[table].append(dict(id=row_id, **row))
    return row_id


# contacts ------------------------------------------------------------------------------------
contact_created = {}
for p in crm_people:
    if p is ZOFIA:
        row = dict(first_name="Zofia", last_name="Wiśniewska", email="zofia.wisniewska@example.pl",
                   phone="+48 22 122 86 17", city="Warszawa", country="PL",
                   company="Kadry-Plus Sp. z o.o.", job_title="Specjalistka ds. kadr i płac",
                   source="formularz_www", created_at="2021-03-08 09:14:22",
                   updated_at="2025-06-02 11:40:05", last_ip="203.0.113.17", photo=PNG_1x1)
    elif p is TOMASZ:
        row = dict(first_name="Tomasz", last_name="Nowicki", email="tomasz.nowicki@example.pl",
                   phone="502 118 443", city="Warszawa", country="PL",
                   company="Softwarehaus Wrocław S.A.", job_title="Kierownik zespołu QA",
                   source="linkedin", created_at="2020-11-23 13:02:51",
                   updated_at="2024-10-15 08:12:40", last_ip="198.51.100.18", photo=None)
    elif p is NAMESAKE:
        row = dict(first_name="Zofia", last_name="Wiśniewska", email="zofia.wisniewska@example.org",
                   phone="+48 601 200 300", city="Kraków", country="PL", company=None,
                   job_title="Księgowa", source="targi_pracy", created_at="2022-05-19 15:47:03",
                   updated_at="2025-02-11 10:05:59", last_ip="192.0.2.117", photo=None)
    else:
        created = ts("2019-01-01", "2025-06-30")
        row = dict(first_name=p.first, last_name=p.last,
                   email=as_typed(p.email) if p.email else None,
                   phone=render_phone(p.phone) if p.phone else None,
                   city=p.city, country=p.country,
                   company=rng.choice(COMPANIES[:-1]) if rng.random() < 0.45 else None,
                   job_title=rng.choice(POSITIONS) if rng.random() < 0.7 else None,
                   source=rng.choice(SOURCES), created_at=created,
                   updated_at=after(created, 3600, 400 * 86400),
                   last_ip=ip_any() if rng.random() < 0.85 else None,
                   photo=PNG_1x1 if rng.random() < 0.05 else None)
    contact_created[p.crm_id] = row["created_at"]
    crm["contacts"].append(dict(id=p.crm_id, **row))

# contact_emails ------------------------------------------------------------------------------
extra_emails = {}   # crm_id -> list of canonical extra e-mails
for p in crm_people:
    if p is ZOFIA:
        add("contact_emails", dict(contact_id=17, email="zosia.w@example.com", label="prywatny",
                                   added_at="2022-01-11 18:22:40"))
        add("contact_emails", dict(contact_id=17, email="Z.Wisniewska@Kadry-Plus.example.pl",
                                   label="służbowy (nieaktualny)", added_at="2021-03-08 09:14:22"))
        extra_emails[17] = [ZOFIA_SECOND_EMAIL, ZOFIA_OLD_EMAIL]
    elif p is NAMESAKE:
        add("contact_emails", dict(contact_id=117, email="zosia.krakow@example.org",
                                   label="prywatny", added_at="2023-01-04 07:55:12"))
        extra_emails[117] = [NAMESAKE_SECOND_EMAIL]
    elif p is TOMASZ:
        continue
    elif rng.random() < 0.3:
        for _ in range(rng.randint(1, 2)):
            e = make_email(p.first, p.last)
            extra_emails.setdefault(p.crm_id, []).append(e)
            add("contact_emails", dict(contact_id=p.crm_id, email=as_typed(e),
                                       label=rng.choice(["prywatny", "służbowy", "inny", None]),
                                       added_at=after(contact_created[p.crm_id], 60, 500 * 86400)))

# applications --------------------------------------------------------------------------------
def cv_name(p, year, ext):
    return "CV_%s_%s_%d.%s" % (ascii_fold(p.first), ascii_fold(p.last).replace(" ", "_"), year, ext)


for p in crm_people:
    if p is ZOFIA:
        add("applications", dict(contact_id=17, position="Specjalista ds. kadr i płac",
                                 client_company="O'Neill Consulting Polska Sp. z o.o.",
                                 cv_filename="CV_Zofia_Wisniewska_2023.pdf",
                                 cv_sha256=sha256_hex("cv:17:2023"),
                                 submitted_at="2023-02-14 08:31:10", status="odrzucona",
                                 expected_salary_pln=9500,
                                 recruiter_note="Dobre kompetencje; oczekiwania finansowe powyżej "
                                                "budżetu klienta. Wrócić przy kolejnej rekrutacji."))
        add("applications", dict(contact_id=17, position="Starsza specjalistka ds. kadr i płac",
                                 client_company="Mazowieckie Centrum Usług Wspólnych Sp. z o.o.",
                                 cv_filename="CV_ZW_2024.docx", cv_sha256=sha256_hex("cv:17:2024"),
                                 submitted_at="2024-09-03 19:02:44", status="zatrudniona",
                                 expected_salary_pln=11000,
                                 recruiter_note="Z polecenia. Klient zaakceptował po 2. etapie."))
        continue
    if p is NAMESAKE:
        add("applications", dict(contact_id=117, position="Księgowa / Księgowy",
                                 client_company="AgroTech Lubelszczyzna Sp. z o.o.",
                                 cv_filename="Zofia Wiśniewska - CV.pdf",
                                 cv_sha256=sha256_hex("cv:117:2022"),
                                 submitted_at="2022-05-19 15:50:41", status="w toku",
                                 expected_salary_pln=8000, recruiter_note=None))
        continue
    if p is TOMASZ or rng.random() < 0.45:
        continue
    for _ in range(rng.randint(1, 3)):
        submitted = after(contact_created[p.crm_id], 60, 700 * 86400)
        year = int(submitted[:4])
        add("applications", dict(
            contact_id=p.crm_id, position=rng.choice(POSITIONS),
            client_company=rng.choice(COMPANIES),
            cv_filename=cv_name(p, year, rng.choice(["pdf", "pdf", "docx"])),
            cv_sha256=sha256_hex("cv:%d:%s" % (p.crm_id, submitted)),
            submitted_at=submitted, status=rng.choice(APP_STATUS),
            expected_salary_pln=rng.choice([None, 6500, 7000, 8500, 10000, 12000, 15000, 18000,
                                            22000]),
            recruiter_note=rng.choice([None, None, "Do ponownego kontaktu za 6 miesięcy.",
                                       "Brak wymaganego doświadczenia.",
                                       "Bardzo dobra rozmowa techniczna.",
                                       "Kandydat preferuje pracę zdalną, 100%.",
                                       "Zna angielski na poziomie C1; \"negocjowalne\" widełki."])))

# referrals -----------------------------------------------------------------------------------
add("referrals", dict(candidate_contact_id=17, referrer_contact_id=18,
                      referrer_name="Tomasz Nowicki", referrer_email="tomasz.nowicki@example.pl",
                      referrer_phone="+48 502 118 443", relationship="były współpracownik",
                      position="Starsza specjalistka ds. kadr i płac",
                      referred_at="2024-08-28 16:05:00", bonus_status="wypłacona"))
candidates = [p for p in crm_people if p.crm_id not in (17, 18, 117)]
rng.shuffle(candidates)
for cand in sorted(candidates[:34], key=lambda p: p.crm_id):
    if rng.random() < 0.5:
        ref = rng.choice([p for p in crm_people
                          if p.crm_id not in (17, 117, cand.crm_id) and p.email and p.phone])
        ref_id = ref.crm_id
    else:
        ref, ref_id = rng.choice(external_referrers), None
    add("referrals", dict(candidate_contact_id=cand.crm_id, referrer_contact_id=ref_id,
                          referrer_name=ref.name,
                          referrer_email=as_typed(ref.email) if ref.email else None,
                          referrer_phone=render_phone(ref.phone) if ref.phone else None,
                          relationship=rng.choice(["znajomy", "były współpracownik", "rodzina",
                                                   "kolega ze studiów", None]),
                          position=rng.choice(POSITIONS),
                          referred_at=after(contact_created[cand.crm_id], -30 * 86400, -60),
                          bonus_status=rng.choice(["oczekuje", "wypłacona", "nie przysługuje"])))

# consents ------------------------------------------------------------------------------------
CONSENT_KINDS = [("newsletter", "email", "NL-2021-01"), ("marketing", "email", "MKT-EMAIL-2021-03"),
                 ("marketing", "phone", "MKT-TEL-2021-03"), ("marketing", "sms", "MKT-SMS-2021-03"),
                 ("recruitment", "web_form", "REK-2022-02"),
                 ("recruitment_future", "web_form", "REK-PRZ-2022-02"),
                 ("contest", "web_form", "KONK-2023-01")]
for p in crm_people:
    if p is ZOFIA:
        for purpose, channel, version, given, withdrawn, form in [
                ("newsletter", "email", "NL-2021-01", "2021-03-08 09:14:30", None, "kontakt"),
                ("marketing", "phone", "MKT-TEL-2021-03", "2021-03-08 09:14:30",
                 "2023-05-19 12:00:03", "kontakt"),
                ("marketing", "sms", "MKT-SMS-2021-03", "2022-01-11 18:22:40", None, "szkolenia"),
                ("recruitment", "web_form", "REK-2022-02", "2023-02-14 08:31:10", None, "aplikacja"),
                ("recruitment_future", "web_form", "REK-PRZ-2022-02", "2023-02-14 08:31:10", None,
                 "aplikacja")]:
            add("consents", dict(contact_id=17, purpose=purpose, channel=channel,
                                 text_version=version, given_at=given, withdrawn_at=withdrawn,
                                 form=form))
        continue
    if p is NAMESAKE:
        for purpose, channel, version, given in [
                ("newsletter", "email", "NL-2021-01", "2022-05-19 15:47:10"),
                ("recruitment", "web_form", "REK-2022-02", "2022-05-19 15:50:41")]:
            add("consents", dict(contact_id=117, purpose=purpose, channel=channel,
                                 text_version=version, given_at=given, withdrawn_at=None,
                                 form="targi_pracy"))
        continue
    kinds = rng.sample(CONSENT_KINDS, rng.randint(1, 4))
    kinds.sort(key=CONSENT_KINDS.index)
    for purpose, channel, version in kinds:
        given = after(contact_created[p.crm_id], 5, 3 * 86400)
        withdrawn = after(given, 86400, 600 * 86400) if rng.random() < 0.15 else None
        add("consents", dict(contact_id=p.crm_id, purpose=purpose, channel=channel,
                             text_version=version, given_at=given, withdrawn_at=withdrawn,
                             form=rng.choice(["kontakt", "aplikacja", "newsletter", "szkolenia",
                                              "targi_pracy"])))

# interactions --------------------------------------------------------------------------------
SUBJECTS = ["Zapytanie o ofertę szkoleń", "Rozmowa wstępna", "Informacja o wyniku rekrutacji",
            "Umówienie spotkania z klientem", "Prośba o aktualne CV", "Pytanie o fakturę",
            "Re: Zapytanie ze strony www", "Zaproszenie na szkolenie",
            "-- przekazano do działu szkoleń --", "@rekrutacja: kandydat do weryfikacji",
            "Prośba o usunięcie danych", "Potwierdzenie udziału w konkursie"]
for p in crm_people:
    if p is ZOFIA:
        for at, channel, direction, subject, agent in [
                ("2021-03-08 09:20:11", "web_form", "in", "Zapytanie o ofertę szkoleń z Excela",
                 None),
                ("2021-03-09 10:02:37", "email", "out", "Re: Zapytanie o ofertę szkoleń z Excela",
                 "a.kaczmarek"),
                ("2023-02-15 13:30:00", "phone", "out", "Rozmowa wstępna – Specjalista ds. kadr i płac",
                 "k.borowska"),
                ("2023-03-01 08:45:12", "email", "out", "Informacja o wyniku rekrutacji",
                 "k.borowska"),
                ("2024-09-10 11:00:00", "meeting", "out", "Spotkanie z klientem – etap 2",
                 "k.borowska"),
                ("2025-06-02 11:38:50", "email", "in", "Prośba o aktualizację danych kontaktowych",
                 "m.lis")]:
            add("interactions", dict(contact_id=17, at=at, channel=channel, direction=direction,
                                     subject=subject, agent=agent))
        continue
    if p is NAMESAKE:
        for at, channel, direction, subject, agent in [
                ("2022-05-19 16:10:00", "meeting", "in", "Rozmowa na targach pracy", "j.sadowski"),
                ("2022-06-02 09:12:44", "email", "out", "Prośba o aktualne CV", "j.sadowski"),
                ("2024-11-20 14:03:19", "phone", "in", "Pytanie o fakturę", "e.pietrzak")]:
            add("interactions", dict(contact_id=117, at=at, channel=channel, direction=direction,
                                     subject=subject, agent=agent))
        continue
    for _ in range(rng.randint(0, 5)):
        channel = rng.choice(["email", "email", "phone", "meeting", "web_form"])
        add("interactions", dict(contact_id=p.crm_id,
                                 at=after(contact_created[p.crm_id], 60, 900 * 86400),
                                 channel=channel,
                                 direction="in" if channel == "web_form" else rng.choice(["in", "out"]),
                                 subject=rng.choice(SUBJECTS),
                                 agent=None if channel == "web_form" else rng.choice(AGENTS)))
crm["interactions"].sort(key=lambda r: (r["at"], r["contact_id"]))
for i, r in enumerate(crm["interactions"], 1):
    r["id"] = i

# profiling_segments --------------------------------------------------------------------------
for p in crm_people:
    if p is ZOFIA:
        add("profiling_segments", dict(contact_id=17, segment="kadry_i_place_senior", score=0.87,
                                       computed_at="2025-05-31 02:00:00", model_version="sd-2025.05",
                                       inputs="cv,linkedin,newsletter_clicks"))
    elif p is NAMESAKE:
        add("profiling_segments", dict(contact_id=117, segment="finanse_ksiegowosc", score=0.64,
                                       computed_at="2025-05-31 02:00:00", model_version="sd-2025.05",
                                       inputs="cv,formularz"))
    elif rng.random() < 0.6:
        add("profiling_segments", dict(
            contact_id=p.crm_id, segment=rng.choice(SEGMENTS),
            score=round(rng.uniform(0.05, 0.99), 2),
            computed_at=rng.choice(["2024-11-30 02:00:00", "2025-05-31 02:00:00"]),
            model_version=rng.choice(["sd-2024.11", "sd-2025.05"]),
            inputs=rng.choice(["cv", "cv,linkedin", "newsletter_clicks", "cv,linkedin,newsletter_clicks",
                               "formularz,lokalizacja"])))


SCHEMA = """\
-- Sample CRM of We'Support (fictitious data). Generated by Samples/generate.py; do not edit.
-- Build the database with: python3 Samples/build.py
PRAGMA foreign_keys = ON;
BEGIN TRANSACTION;

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL,
    email       TEXT,            -- as typed by the person
    phone       TEXT,            -- as typed, any format
    city        TEXT,
    country     TEXT,            -- ISO 3166 alpha-2
    company     TEXT,
    job_title   TEXT,
    source      TEXT NOT NULL,   -- channel the contact came from
    created_at  TEXT NOT NULL,   -- UTC
    updated_at  TEXT NOT NULL,   -- UTC
    last_ip     TEXT,            -- observed at the last web form submission
    photo       BLOB
);
CREATE INDEX contacts_email_lower ON contacts(lower(email));

CREATE TABLE contact_emails (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id),
    email       TEXT NOT NULL,
    label       TEXT,
    added_at    TEXT NOT NULL
);
CREATE INDEX contact_emails_contact ON contact_emails(contact_id);

CREATE TABLE applications (
    id                  INTEGER PRIMARY KEY,
    contact_id          INTEGER NOT NULL REFERENCES contacts(id),
    position            TEXT NOT NULL,
    client_company      TEXT NOT NULL,
    cv_filename         TEXT NOT NULL,
    cv_sha256           TEXT NOT NULL,
    submitted_at        TEXT NOT NULL,
    status              TEXT NOT NULL,
    expected_salary_pln INTEGER,
    recruiter_note      TEXT
);
CREATE INDEX applications_contact ON applications(contact_id);

CREATE TABLE referrals (
    id                   INTEGER PRIMARY KEY,
    candidate_contact_id INTEGER NOT NULL REFERENCES contacts(id),
    referrer_contact_id  INTEGER REFERENCES contacts(id),  -- set when the referrer is a contact too
    referrer_name        TEXT NOT NULL,
    referrer_email       TEXT,
    referrer_phone       TEXT,
    relationship         TEXT,
    position             TEXT,
    referred_at          TEXT NOT NULL,
    bonus_status         TEXT NOT NULL
);
CREATE INDEX referrals_candidate ON referrals(candidate_contact_id);

CREATE TABLE consents (
    id            INTEGER PRIMARY KEY,
    contact_id    INTEGER NOT NULL REFERENCES contacts(id),
    purpose       TEXT NOT NULL,
    channel       TEXT NOT NULL,
    text_version  TEXT NOT NULL,
    given_at      TEXT NOT NULL,
    withdrawn_at  TEXT,
    form          TEXT
);
CREATE INDEX consents_contact ON consents(contact_id);

CREATE TABLE interactions (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id),
    at          TEXT NOT NULL,
    channel     TEXT NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    subject     TEXT,
    agent       TEXT
);
CREATE INDEX interactions_contact ON interactions(contact_id);

CREATE TABLE profiling_segments (
    id            INTEGER PRIMARY KEY,
    contact_id    INTEGER NOT NULL REFERENCES contacts(id),
    segment       TEXT NOT NULL,
    score         REAL NOT NULL,
    computed_at   TEXT NOT NULL,
    model_version TEXT NOT NULL,
    inputs        TEXT
);
CREATE INDEX profiling_segments_contact ON profiling_segments(contact_id);
"""


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, bytes):
        return "X'" + v.hex().upper() + "'"
    return "'" + str(v).replace("'", "''") + "'"


def write_sql(path):
    out = [SCHEMA]
    for table in crm:
        rows = sorted(crm[table], key=lambda r: r["id"])
        out.append("")
        for r in rows:
            cols = ", ".join(r.keys())
            vals = ", ".join(sql_literal(v) for v in r.values())
            out.append("INSERT INTO %s (%s) VALUES (%s);" % (table, cols, vals))
    out.append("")
    out.append("COMMIT;")
    write_text(path, "\n".join(out) + "\n")


# ---------------------------------------------------------------------------------------------
# Mailing list (Mailchimp audience export)
# ---------------------------------------------------------------------------------------------

MC_HEADER = ('"Email Address","First Name","Last Name","Phone Number",MEMBER_RATING,OPTIN_TIME,'
             'OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,'
             'LAST_CHANGED,LEID,EUID,NOTES,TAGS')
TAG_CHOICES = ["Szkolenia", "Rekrutacja IT", "Kadry i płace", "Blog", "VIP", "Webinar", "Targi 2024"]
TZ_OFFSETS = {"Europe/Warsaw": (1, 2), "Europe/Berlin": (1, 2), "Europe/Prague": (1, 2),
              "Europe/Kyiv": (2, 3), "Europe/Paris": (1, 2), "Europe/Madrid": (1, 2),
              "Europe/Oslo": (1, 2), "Europe/London": (0, 1)}


def csv_cell(v):
    v = "" if v is None else str(v)
    if any(c in v for c in ',"\r\n'):
        return '"' + v.replace('"', '""') + '"'
    return v


def tags_cell(tags):
    return ",".join('"%s"' % t for t in tags)


mailing_rows = []
leid = 183750000   # generated ids start above the fixed ones (183740017, 183740117)


def mc_row(p, email_cell, phone_cell, rating, optin, notes="", tags=(), geo=True, ip=None):
    global leid
    leid += rng.randint(1, 40)
    ip = ip or ip_any()
    confirm = after(optin, 20, 3600)
    gmt, dst = TZ_OFFSETS[p.tz]
    return [email_cell, p.first, p.last, phone_cell, rating, optin, ip, confirm, ip,
            ("%.7f" % (p.lat + rng.uniform(-0.05, 0.05))) if geo else "",
            ("%.7f" % (p.lon + rng.uniform(-0.05, 0.05))) if geo else "",
            gmt if geo else "", dst if geo else "", p.tz if geo else "",
            p.country if geo else "", p.region if geo else "",
            after(confirm, 3600, 700 * 86400), leid, "%010x" % rng.randrange(16 ** 10),
            notes, tags_cell(tags)]


NOTE_CHOICES = ["", "", "", "", "Zapis z targów pracy, Warszawa 2024",
                "+ dopisać do segmentu szkoleń", "-- nie wysyłać ofert w sierpniu --",
                "@Kasia: sprawdzić zgodę", "Prosi o kontakt po 16:00, \"najlepiej mailowo\"",
                "Adres z kampanii \"Rekrutacja IT\";\nprzeniesiony z listy 2022"]

mailing_people = []
for p in crm_people:
    if p is ZOFIA:
        row = mc_row(p, " Zofia.Wisniewska@Example.PL ", "0048 22 122-86-17", 4,
                     "2021-03-08 09:14:30",
                     notes='=HYPERLINK("https://example.com/kupon?id=17","Odbierz rabat")',
                     tags=["Szkolenia", "Kadry i płace"], ip="203.0.113.17")
        # fixed values for the sample person
        row[7], row[9], row[10], row[16], row[17], row[18] = (
            "2021-03-08 09:16:02", "52.2297000", "21.0122000", "2025-06-02 11:40:05", 183740017,
            "f3a9c1d2e7")
        mailing_rows.append(row)
        continue
    if p is NAMESAKE:
        row = mc_row(p, "zofia.wisniewska@example.org", "601-200-300", 2, "2022-05-19 15:47:10",
                     tags=["Targi 2024"], ip="192.0.2.117")
        row[17] = 183740117
        mailing_rows.append(row)
        continue
    if not p.email or rng.random() < 0.45:
        continue
    email_cell = as_typed(p.email)
    if rng.random() < 0.1:
        email_cell = rng.choice([" ", "  ", ""]) + email_cell + rng.choice([" ", "", "  "])
    phone_cell = render_phone(p.phone) if p.phone and rng.random() < 0.4 else ""
    tags = rng.sample(TAG_CHOICES, rng.randint(0, 3))
    mailing_rows.append(mc_row(p, email_cell, phone_cell, rng.randint(1, 5),
                               after(contact_created[p.crm_id], 10, 200 * 86400),
                               notes=rng.choice(NOTE_CHOICES), tags=tags,
                               geo=rng.random() < 0.8))
for i, p in enumerate(mailing_only):
    email_cell = as_typed(p.email)
    if i % 7 == 3:
        email_cell = " " + email_cell
    notes = rng.choice(NOTE_CHOICES)
    first = p.first
    if i == 5:
        first = "=cmd|' /C calc'!A0"           # formula injection typed into a form field
    row = mc_row(p, email_cell, render_phone(p.phone) if p.phone else "", rng.randint(1, 5),
                 ts("2020-01-01", "2025-09-30"), notes=notes,
                 tags=rng.sample(TAG_CHOICES, rng.randint(0, 2)), geo=rng.random() < 0.7)
    row[1] = first
    mailing_rows.append(row)
# Interleave as Mailchimp would (by opt-in time), deterministic.
mailing_rows.sort(key=lambda r: (r[5], r[17]))


def write_mailing(path):
    lines = [MC_HEADER]
    for r in mailing_rows:
        lines.append(",".join(csv_cell(v) for v in r))
    write_text(path, "\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# Training (JSON Lines)
# ---------------------------------------------------------------------------------------------

events = []           # (sort key, record)
invoice_seq = {}      # year -> next number
ZOFIA_INVOICES = {"FV/2023/0412", "FV/2024/0088"}
NAMESAKE_INVOICES = {"FV/2024/0517"}
RESERVED_INVOICES = ZOFIA_INVOICES | NAMESAKE_INVOICES
enrol_seq = [0]
att_seq = [0]


def next_invoice(year):
    while True:
        n = invoice_seq.get(year, 0) + rng.randint(1, 9)
        invoice_seq[year] = n
        inv = "FV/%d/%04d" % (year, n)
        if inv not in RESERVED_INVOICES:
            return inv


def money(x):
    return "%.2f" % x


def vat_of(net, rate):
    return 0.0 if rate == "zw" else round(net * int(rate) / 100.0, 2)


def emit(at, rec):
    events.append((at, len(events), rec))


def enrolment(contact_id, course, edition_start, enrolled_at, status, invoice, dietary=None,
              source="formularz_www", contact_id_as_text=False, billing=None, lines=None):
    """Emits an enrolment with its attendance, certificate, invoice and invoice lines."""
    code, title, days, price, vat = course
    enrol_seq[0] += 1
    eid = "ENR-%s-%04d" % (edition_start[:4], enrol_seq[0])
    city = "Warszawa" if rng.random() < 0.6 else rng.choice(["Kraków", "Wrocław", "online"])
    emit(enrolled_at, {"type": "enrolment", "id": eid, "contact_id": contact_id,
                       "course": {"code": code, "title": title,
                                  "edition": "%s %s" % (edition_start[:7].replace("-", "/"), city)},
                       "enrolled_at": iso(enrolled_at), "status": status, "invoice": invoice,
                       "dietary": dietary, "source": source})
    start = dt.date.fromisoformat(edition_start[:10])
    if status == "completed":
        for d in range(days):
            att_seq[0] += 1
            day = start + dt.timedelta(days=d)
            present = not (days >= 3 and d == days - 1 and att_seq[0] % 4 == 0)
            emit(day.isoformat() + " 17:00:00",
                 {"type": "attendance", "id": "ATT-%05d" % att_seq[0], "contact_id": contact_id,
                  "enrolment": eid, "date": day.isoformat(), "present": present,
                  "hours": 8 if present else 0,
                  "signature": "podpis na liście" if present else None})
        issued = start + dt.timedelta(days=days + 1)
        cert_no = "CERT/%s/%s/%03d" % (issued.year, code, enrol_seq[0])
        emit(issued.isoformat() + " 12:00:00",
             {"type": "certificate", "number": cert_no,
              "contact_id": str(contact_id) if contact_id_as_text else contact_id,
              "enrolment": eid, "course": title, "issued_at": issued.isoformat(),
              "grade": rng.choice(["zaliczony", "bardzo dobry", "dobry"]),
              "skills": sorted(rng.sample(SKILLS[code], 2)),
              "partner": rng.choice(PARTNERS)})
    if invoice:
        issued = (start + dt.timedelta(days=days)).isoformat()
        lines = lines or [("Szkolenie: %s (%d dni)" % (title, days), 1, "szt.", float(price), vat)]
        net_total = vat_total = 0.0
        for n, (desc, qty, unit, unit_net, rate) in enumerate(lines, 1):
            net = round(qty * unit_net, 2)
            vat_amt = vat_of(net, rate)
            net_total += net
            vat_total += vat_amt
            emit(issued + " 10:00:01",
                 {"type": "invoice_line", "invoice": invoice, "line": n, "description": desc,
                  "quantity": qty, "unit": unit, "unit_net": money(unit_net), "vat_rate": rate,
                  "net": money(net), "vat": money(vat_amt), "gross": money(net + vat_amt)})
        paid = rng.random() < 0.9
        emit(issued + " 10:00:00",
             {"type": "invoice", "invoice": invoice, "contact_id": contact_id,
              "issued_at": issued,
              "due_at": (dt.date.fromisoformat(issued) + dt.timedelta(days=14)).isoformat(),
              "currency": "PLN", "net": money(net_total), "vat": money(vat_total),
              "gross": money(net_total + vat_total),
              "paid_at": (dt.date.fromisoformat(issued) + dt.timedelta(days=rng.randint(1, 13))
                          ).isoformat() if paid else None,
              "billing": billing})
    return eid


# Zofia (17): three enrolments (one cancelled webinar without an invoice), two invoices, five
# invoice lines, certificates written with contact_id as text ("17").
enrolment(17, COURSES[0], "2023-04-12", "2023-03-20 10:15:00", "completed", "FV/2023/0412",
          dietary="wegetariańska", contact_id_as_text=True,
          billing={"name": "Kadry-Plus Sp. z o.o.", "nip": "5213870274",
                   "street": "ul. Świętokrzyska 30 lok. 63", "postcode": "00-116",
                   "city": "Warszawa"},
          lines=[("Szkolenie: Excel dla zaawansowanych (2 dni)", 1, "szt.", 1000.00, "23"),
                 ("Catering — obiad, 2 dni", 2, "os.-dzień", 45.00, "8")])
enrolment(17, COURSES[1], "2024-02-19", "2024-01-30 21:41:09", "completed", "FV/2024/0088",
          contact_id_as_text=True,
          billing={"name": "Zofia Wiśniewska", "nip": None, "street": "ul. Grochowska 112 m. 5",
                   "postcode": "04-301", "city": "Warszawa"},
          lines=[("Szkolenie: PRINCE2® Foundation z egzaminem (3 dni)", 1, "szt.", 2200.00, "zw"),
                 ("Podręcznik „Managing Successful Projects with PRINCE2”", 1, "szt.", 180.00, "5"),
                 ("Rabat dla absolwentów We'Support", 1, "szt.", -150.00, "zw")])
enrolment(17, COURSES[6], "2025-03-05", "2025-02-20 07:58:31", "cancelled", None,
          source="newsletter")

# The namesake (117): one enrolment, one invoice, one line.
enrolment(117, COURSES[2], "2024-11-18", "2024-10-30 12:12:12", "completed", "FV/2024/0517",
          billing={"name": "Zofia Wiśniewska", "nip": None, "street": "ul. Długa 7",
                   "postcode": "31-147", "city": "Kraków"})

trainees = [p for p in crm_people if p.crm_id not in (17, 18, 117)]
rng.shuffle(trainees)
for p in sorted(trainees[:70], key=lambda q: q.crm_id):
    for _ in range(rng.randint(1, 3)):
        course = rng.choice(COURSES)
        start = ts("2021-01-01", "2025-09-30")[:10]
        enrolled = after(start + " 09:00:00", -40 * 86400, -86400)
        status = rng.choice(["completed", "completed", "completed", "cancelled", "confirmed"])
        free = course[3] == "0.00"
        invoice = None if free or status == "cancelled" else next_invoice(int(start[:4]))
        company = rng.random() < 0.4
        billing = None
        if invoice:
            billing = {"name": rng.choice(COMPANIES[:-1]) if company else p.name,
                       "nip": nip() if company else None,
                       "street": "%s %d" % (rng.choice(STREETS), rng.randint(1, 120)),
                       "postcode": "%02d-%03d" % (rng.randint(0, 99), rng.randint(0, 999)),
                       "city": p.city}
        enrolment(p.crm_id, course, start, enrolled, status, invoice,
                  dietary=rng.choice([None, None, None, "wegetariańska", "bezglutenowa", "wegańska"]),
                  source=rng.choice(["formularz_www", "newsletter", "telefon", "zamówienie firmowe"]),
                  contact_id_as_text=rng.random() < 0.5, billing=billing)

events.sort(key=lambda e: (e[0], e[1]))


def write_training(path):
    lines = [json.dumps(rec, ensure_ascii=False) for _, _, rec in events]
    write_text(path, "\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# Contests (XML)
# ---------------------------------------------------------------------------------------------

def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attr(s):
    return esc(s).replace('"', "&quot;")


CONTESTS = [
    ("K-2023-FOTO", "Moje miejsce pracy — konkurs fotograficzny", "2023-06-01", "2023-06-30",
     "single"),
    ("K-2024-QUIZ", "Quiz: rynek pracy IT 2024", "2024-03-01", "2024-03-15", "quiz"),
    ("K-2025-CV", "Najlepsze CV w 60 sekund", "2025-04-01", "2025-04-30", "single"),
]
ANSWERS = ["Biurko przy oknie i kubek z logo.", "Open space o 7 rano — jeszcze pusto!",
           "Zdalnie, z kotem na kolanach.", "Hala produkcyjna & kask ochronny.",
           "Moje CV mieści się na jednej stronie, a doświadczenie na trzech.",
           "Kawa, kod, \"code review\".", "Pokój socjalny <3 i ekspres ciśnieniowy.", ""]
QUIZ_KEYS = ["A", "B", "C", "D"]

entries = {c[0]: [] for c in CONTESTS}
winners = {c[0]: [] for c in CONTESTS}
entry_seq = [0]


def entry_id():
    entry_seq[0] += 1
    return "E-%04d" % entry_seq[0]


def new_entry(contest, name, email=None, phone=None, answer=None, submitted=None, address=None,
              cdata=False):
    cid, _, lo, hi, kind = next(c for c in CONTESTS if c[0] == contest)
    if answer is None:
        answer = ([rng.choice(QUIZ_KEYS) for _ in range(4)] if kind == "quiz"
                  else rng.choice(ANSWERS))
    e = dict(id=None, name=name, email=email, phone=phone, answer=answer,
             submitted_at=submitted or iso(ts(lo, hi)), address=address, cdata=cdata)
    entries[contest].append(e)
    return e


def random_address(p):
    return {"street": "%s %d" % (rng.choice(STREETS), rng.randint(1, 150)),
            "postcode": "%02d-%03d" % (rng.randint(0, 99), rng.randint(0, 999)), "city": p.city}


# The sample person: one entry under her second e-mail (a winner), one under her phone only.
zofia_foto = new_entry("K-2023-FOTO", "Zosia Wiśniewska", email="zosia.w@example.com",
                       answer="Biurko przy oknie, dwa monitory i fikus Zenek.",
                       submitted="2023-06-12T19:44:03Z",
                       address={"street": "ul. Grochowska 112 m. 5", "postcode": "04-301",
                                "city": "Warszawa"})
zofia_quiz = new_entry("K-2024-QUIZ", "Zofia W.", phone="221228617",
                       answer=["B", "A", "D", "C"], submitted="2024-03-07T08:15:27Z")
namesake_cv = new_entry("K-2025-CV", "Zofia Wiśniewska", email="zofia.wisniewska@example.org",
                        submitted="2025-04-11T10:20:30Z",
                        answer="Księgowość to moja pasja — i to widać w CV.")

contestants = ([p for p in crm_people if p.crm_id not in (17, 18, 117)] + contest_only)
for i, p in enumerate(contestants):
    if p.crm_id is not None and rng.random() > 0.25:
        continue
    for contest in rng.sample([c[0] for c in CONTESTS], rng.randint(1, 2)):
        use_phone = p.phone is not None and (p.email is None or rng.random() < 0.3)
        name = p.name if rng.random() < 0.8 else p.first + " " + p.last[0] + "."
        new_entry(contest, name,
                  email=None if use_phone else as_typed(p.email),
                  phone=render_phone(p.phone) if use_phone else None,
                  address=random_address(p) if rng.random() < 0.3 else None,
                  cdata=rng.random() < 0.05)

# Entry ids follow the order of submission, contest by contest.
for contest in entries:
    entries[contest].sort(key=lambda e: e["submitted_at"])
    for e in entries[contest]:
        e["id"] = entry_id()
zofia_foto, zofia_quiz, namesake_cv = zofia_foto["id"], zofia_quiz["id"], namesake_cv["id"]

# Winners: Zofia's photo entry wins the photo contest; the rest are drawn.
winners["K-2023-FOTO"].append((zofia_foto, 1, "Karta podarunkowa 500 zł", "2023-07-05"))
for contest, lo_place, prizes, announced in [
        ("K-2023-FOTO", 2, ["Słuchawki bezprzewodowe", "Kubek termiczny We'Support"], "2023-07-05"),
        ("K-2024-QUIZ", 1, ["Voucher na szkolenie SQL i Power BI", "Książka „Czysty kod”"],
         "2024-03-20"),
        ("K-2025-CV", 1, ["Sesja z doradcą kariery", "Profesjonalne zdjęcie do CV",
                          "Kubek termiczny We'Support"], "2025-05-09")]:
    pool = [e["id"] for e in entries[contest]
            if e["id"] not in (zofia_foto, zofia_quiz, namesake_cv)]
    for k, eid in enumerate(sorted(rng.sample(pool, len(prizes)))):
        winners[contest].append((eid, lo_place + k, prizes[k], announced))


def write_contests(path):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<!-- Contests of We\'Support (fictitious data). Generated by Samples/generate.py. -->',
           "<contests>"]
    for cid, title, lo, hi, kind in CONTESTS:
        out.append('  <contest id="%s" kind="%s">' % (cid, kind))
        out.append("    <title>%s</title>" % esc(title))
        out.append("    <opens>%s</opens>" % lo)
        out.append("    <closes>%s</closes>" % hi)
        for e in entries[cid]:
            out.append('    <entry id="%s" contest="%s">' % (e["id"], cid))
            out.append("      <name>%s</name>" % esc(e["name"]))
            if e["email"] is not None:
                out.append("      <email>%s</email>" % esc(e["email"]))
            if e["phone"] is not None:
                out.append("      <phone>%s</phone>" % esc(e["phone"]))
            answers = e["answer"] if isinstance(e["answer"], list) else [e["answer"]]
            for a in answers:
                if a == "":
                    out.append("      <answer/>")
                elif e["cdata"]:
                    out.append("      <answer><![CDATA[%s]]></answer>" % a)
                else:
                    out.append("      <answer>%s</answer>" % esc(a))
            out.append("      <submitted_at>%s</submitted_at>" % e["submitted_at"])
            if e["address"]:
                a = e["address"]
                out.append("      <address>")
                out.append("        <street>%s</street>" % esc(a["street"]))
                out.append("        <postcode>%s</postcode>" % a["postcode"])
                out.append("        <city>%s</city>" % esc(a["city"]))
                out.append("      </address>")
            out.append("    </entry>")
        for eid, place, prize, announced in sorted(winners[cid], key=lambda w: w[1]):
            out.append('    <winner entry="%s" place="%d">' % (eid, place))
            out.append("      <prize>%s</prize>" % esc(prize))
            out.append("      <announced_at>%s</announced_at>" % announced)
            out.append("    </winner>")
        out.append("  </contest>")
    out.append("</contests>")
    write_text(path, "\n".join(out) + "\n")


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def write_text(rel, text):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert ABSENT_EMAIL not in text.lower(), rel
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def main():
    write_sql("crm/crm.sql")
    write_mailing("mailing/subscribers.csv")
    write_training("training/events.jsonl")
    write_contests("contests/entries.xml")
    print("contacts %d, contact_emails %d, applications %d, referrals %d, consents %d, "
          "interactions %d, profiling_segments %d; subscribers %d; training events %d; "
          "contest entries %d, winners %d" % (
              len(crm["contacts"]), len(crm["contact_emails"]), len(crm["applications"]),
              len(crm["referrals"]), len(crm["consents"]), len(crm["interactions"]),
              len(crm["profiling_segments"]), len(mailing_rows), len(events),
              sum(len(v) for v in entries.values()), sum(len(v) for v in winners.values())))


if __name__ == "__main__":
    main()
