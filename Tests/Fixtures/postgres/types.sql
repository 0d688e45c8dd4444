-- One table, `everything`, with a column of each PostgreSQL type a source may hold and one row per
-- case; `email` (never NULL) finds a row. Load it into an empty UTF8 database with
-- `psql -v ON_ERROR_STOP=1 -d <database> -f types.sql` (the integration tests' `pg_types` fixture
-- loads it into `dossier_types`, read by `dossier_reader`).
--
--   id  email                  case
--   1   typical@example.pl     ordinary values, -12.50, 0.1, Polish letters and a newline, nested jsonb
--   2   extremes@example.pl    type limits, a 40-digit numeric, 1e300, empty text, arrays and bytea
--   3   zeros@example.pl       0.00 and other zeros, the epoch
--   4   special@example.pl     NaN and infinities
--   5   nulls@example.pl       NULL in every nullable column

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');

CREATE TABLE everything (
    id               integer PRIMARY KEY,
    email            text NOT NULL,
    c_smallint       smallint,
    c_integer        integer,
    c_bigint         bigint,
    c_numeric        numeric,
    c_real           real,
    c_double         double precision,
    c_boolean        boolean,
    c_text           text,
    c_varchar        varchar(40),
    c_char           char(5),
    c_date           date,
    c_timestamp      timestamp,
    c_timestamptz    timestamptz,
    c_time           time,
    c_uuid           uuid,
    c_json           json,
    c_jsonb          jsonb,
    c_int_array      integer[],
    c_text_array     text[],
    c_int_matrix     integer[][],
    c_bytea          bytea,
    c_enum           mood,
    c_interval       interval,
    c_inet           inet
);

INSERT INTO everything VALUES
(1, 'typical@example.pl',
    42, 123456, 9007199254740993, -12.50, 1.5, 0.1, true,
    E'Zażółć gęślą jaźń\nŁódź, Świętokrzyska 5', 'Grzegorz Brzęczyszczykiewicz', 'ab',
    '2026-01-31', '2026-03-01 12:00:00.123456', '2026-03-01 12:00:00+01', '13:45:30.5',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '{"b": 1, "a": [1, 2.50]}',
    '{"name": "Łucja", "amount": 1230.00, "big": 123456789012345678901234567890, "nested": {"list": [1, {"deep": true}], "none": null}}',
    '{1,2,3}', ARRAY['zażółć', NULL, 'with "quotes", commas'], '{{1,2},{3,4}}',
    '\x00ff10', 'happy', '1 year 2 mons 3 days 04:05:06.5', '192.168.0.1/24'),
(2, 'extremes@example.pl',
    32767, -2147483648, -9223372036854775808, 1234567890123456789012345678901234567890,
    3.4028235e38, 1e300, false,
    '', 'ÄÖÜ ñ 日本', 'abcde',
    '0001-01-01', '1999-12-31 23:59:59', '2026-07-01 00:30:00-07:00', '23:59:59.999999',
    '00000000-0000-0000-0000-000000000000',
    '[]', '[]',
    '{}', '{}', '{{1,2,3},{4,5,6}}',
    '\x', 'sad', '-1 day -00:00:01', '::1'),
(3, 'zeros@example.pl',
    0, 0, 0, 0.00, 0, 0, false,
    '0', '0', '0',
    '1970-01-01', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '00:00:00',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    '0', '{"zero": 0.00, "empty": {}, "list": []}',
    '{0}', '{""}', '{{0}}',
    '\x00', 'ok', '0', '0.0.0.0'),
(4, 'special@example.pl',
    -1, -1, -1, 'NaN', '-Infinity', 'Infinity', true,
    'NaN', 'Infinity', 'null',
    'infinity', '-infinity', 'infinity', '24:00:00',
    '123e4567-e89b-12d3-a456-426614174000',
    'null', '"just a string"',
    '{-1,NULL}', '{NULL}', '{{NULL,1},{2,NULL}}',
    '\x0a0d09', 'happy', '1000000 years', '2001:db8::/32'),
(5, 'nulls@example.pl',
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL,
    NULL, NULL, NULL, NULL,
    NULL,
    NULL, NULL,
    NULL, NULL, NULL,
    NULL, NULL, NULL, NULL);
