/* Dossier's XML record scanner and slice reader (libxml2 SAX2).
 *
 * dossier_xml_scan reads a file once and hands over every element at one of several absolute paths
 * as an xmlNode subtree, with its exact byte range in the file; dossier_xml_read_record parses such a
 * byte range alone again, so a lookup index can store ranges and read single records back.
 *
 * libxml2 is built with ICU, and its encoding.h would pull the system's ICU headers into Swift, where
 * they clash with Foundation's own ICU. Nothing here touches the ICU-dependent struct fields
 * (xmlCharEncodingHandler's converters), so those declarations are left out, as in CLibXML2's shim.h.
 *
 * Thread safety: no global state; scans and reads may run on several threads at once (each on its
 * own file or bytes). The caller must have called xmlInitParser() once before. */
#ifndef DOSSIER_XML_INDEX_H
#define DOSSIER_XML_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/tree.h>
#include <libxml/parser.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dossier_xml_status.code */
enum {
    DOSSIER_XML_OK = 0,
    DOSSIER_XML_UNREADABLE = 1,       /* the file cannot be opened or read */
    DOSSIER_XML_MALFORMED = 2,        /* not (namespace-)well-formed XML: libxml2's message and line */
    DOSSIER_XML_REFUSED = 3,          /* entities or an external DTD: refused (XXE, billion laughs) */
    DOSSIER_XML_NOT_INDEXABLE = 4,    /* only with DOSSIER_XML_FOR_INDEX: the DTD declares attribute defaults
                                         or non-CDATA attribute types, which a slice read back alone would
                                         not see; not an error of the file: scan it instead */
    DOSSIER_XML_INVALID_ARGUMENT = 5, /* a bad path, encoding or slice argument */
    DOSSIER_XML_INTERNAL = 6          /* out of memory, or libxml2 did not behave as expected */
};

/* dossier_xml_scan options */
enum {
    /* The ranges are for a lookup index: refuse with DOSSIER_XML_NOT_INDEXABLE a DTD whose <!ATTLIST>
       would make a record parsed in its document differ from the same bytes parsed alone. */
    DOSSIER_XML_FOR_INDEX = 1
};

typedef struct {
    int code;           /* DOSSIER_XML_* */
    int line;           /* 1-based line in the file (or slice), 0 when unknown */
    char message[512];  /* UTF-8, no trailing newline; empty when code is DOSSIER_XML_OK */
} dossier_xml_status;

/* Called once per record, in document order.
 *   path_index: which of the scan's paths the record is at (the first one when several are equal).
 *   offset, length: the record's bytes in the file, from its '<' to just past its end tag or "/>".
 *   record: the element with its whole subtree (attributes, children, text, CDATA, comments, PIs), as the
 *     libxml2 SAX2 tree builder makes it (the same tree as xmlTextReaderExpand). Borrowed: valid only until
 *     the callback returns; do not free, unlink or keep it. record->parent is a bare copy of its parent
 *     element (name and namespace declarations only) or NULL for the root; the ancestors carry the
 *     in-scope namespaces, so record->ns and its descendants' ns point at them.
 *   namespace_declarations: the namespaces the ancestors declare that are in scope at the record, as
 *     attribute text (" xmlns=\"urn:a\" xmlns:c=\"urn:c\"", values escaped; "" when none). Borrowed too.
 * Return 0 to go on, or a positive value to stop the scan, which then returns that value. */
typedef int (*dossier_xml_record_fn)(void *ctx, int path_index, uint64_t offset, uint64_t length,
                                     xmlNodePtr record, const char *namespace_declarations);

/* Reads `file` once and calls `fn` for every element whose absolute path of local names (namespace
 * prefixes ignored) equals one of `paths` (e.g. "/contests/contest/entry"). A matching element inside a
 * record is part of that record, never a record of its own.
 * Entities are never substituted, no DTD is loaded and the network is never used; a document whose DTD
 * declares an entity or names an external subset, or that uses an entity reference other than the
 * predefined ones and character references, is refused (DOSSIER_XML_REFUSED).
 * Memory stays bounded by the largest record: only the current record's tree and a bare chain of its
 * ancestors are kept.
 * `encoding_out` (may be NULL) receives the name of the encoding libxml2 decodes the file from (e.g.
 * "ISO-8859-2", "UTF-16LE"), or "" for UTF-8; it is set when the root element is read, so it is already
 * valid inside the callbacks (dossier_xml_read_record needs it).
 * Returns 0 when the whole file was read, the callback's value when it stopped the scan, or -1 with
 * `status` filled (status->code is DOSSIER_XML_OK unless -1 is returned; `status` may be NULL). */
int dossier_xml_scan(const char *file, const char *const *paths, int path_count, unsigned options,
                     dossier_xml_record_fn fn, void *ctx, dossier_xml_status *status,
                     char *encoding_out, size_t encoding_capacity);

/* One value of a field read by dossier_xml_scan_fields: the text of an attribute or of an element
 * without attributes and child elements (its text and CDATA, comments left out, as xmlNodeGetContent
 * gives it); `text` is NULL for an element with attributes or child elements (an object). */
typedef struct {
    const char *text;
    size_t length;
} dossier_xml_item;

/* A field of a record: `count` items (0: the record has no such field). */
typedef struct {
    int count;
    const dossier_xml_item *items;
} dossier_xml_field;

/* Called once per record by dossier_xml_scan_fields, in document order; as dossier_xml_record_fn, but
 * with the record's fields instead of its tree: `fields[k]` is field k. When the scanner cannot read a
 * field byte for byte (a name beyond ASCII where a field's name is compared, which may still be the
 * same name to the caller; an attribute value holding an escaped '&'), `fields` is NULL and `record`
 * is the record's tree, parsed again from its bytes (as dossier_xml_read_record parses it); otherwise
 * `record` is NULL. Everything is borrowed until the callback returns. */
typedef int (*dossier_xml_fields_fn)(void *ctx, int path_index, uint64_t offset, uint64_t length,
                                     const dossier_xml_field *fields, xmlNodePtr record,
                                     const char *namespace_declarations);

/* dossier_xml_scan, reading only some fields of each record instead of building its tree: field k is
 * the path of local names components[first..first + lengths[k]) (first: the sum of the lengths
 * before it), ASCII names only, at most 64 fields. A field's value is what a lookup finds by that
 * path in the record made of the element (XMLFormat.fields(of:)): at each step, the first attribute
 * so named and every child element so named; the items of the last step, or, at a step before it,
 * the one child element (with attributes or children) found there. The same security, refusals,
 * ranges and results as dossier_xml_scan. */
int dossier_xml_scan_fields(const char *file, const char *const *paths, int path_count, unsigned options,
                            const char *const *components, const int *lengths, int field_count,
                            dossier_xml_fields_fn fn, void *ctx, dossier_xml_status *status,
                            char *encoding_out, size_t encoding_capacity);

/* Parses the bytes of one record (a range given by dossier_xml_scan) alone, with the same security
 * options. `encoding` is the scan's encoding_out (NULL or "" for UTF-8); `namespace_declarations` the
 * record's namespace declarations string (NULL or "" when none), so prefixes declared on ancestors
 * resolve to the same namespaces. Returns the record element, or NULL with `status` filled when the
 * bytes are not exactly one well-formed element (or use an entity: DOSSIER_XML_REFUSED).
 * The element belongs to a small private document (record->doc; record->parent is a placeholder that
 * carries the namespace declarations): free it with dossier_xml_free_record, and do not unlink it. */
xmlNodePtr dossier_xml_read_record(const void *bytes, size_t length, const char *encoding,
                                   const char *namespace_declarations, dossier_xml_status *status);

/* Frees a record returned by dossier_xml_read_record, with its private document. NULL is ignored. */
void dossier_xml_free_record(xmlNodePtr record);

#ifdef __cplusplus
}
#endif

#endif /* DOSSIER_XML_INDEX_H */
