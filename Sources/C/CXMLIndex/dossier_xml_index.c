/* Dossier's XML record scanner and slice reader: see include/dossier_xml_index.h.
 *
 * Why SAX2 and not xmlTextReader: the reader's byte counts are inexact, while at SAX2 events the
 * parser's input position is exact. A record starts at the '<' found by scanning back from the input
 * position at startElementNs (a '<' cannot occur inside a start tag) and ends at the input position at
 * endElementNs (just past "</name>" or "/>"). Inside a record the events go to libxml2's own SAX2 tree
 * builder, so the record's tree is the one xmlTextReaderExpand gives; outside records nothing is built
 * except a bare node per open ancestor of a possible record, which carries its namespace declarations
 * so the builder resolves prefixes declared above the record. */
#include "dossier_xml_index.h"

#include <libxml/SAX2.h>
#include <libxml/globals.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* libxml2 2.12 made the structured error handler take a const error. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *error_ptr;
#else
typedef xmlErrorPtr error_ptr;
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Status                                                                                          */

static void status_clear(dossier_xml_status *st) {
    if (st == NULL) return;
    st->code = DOSSIER_XML_OK;
    st->line = 0;
    st->message[0] = 0;
}

/* libxml2's messages end with a newline and sometimes carry blanks: keep the text only. */
static void copy_trimmed(char *dst, size_t cap, const char *src) {
    if (src == NULL) src = "";
    while (*src == ' ' || *src == '\t' || *src == '\n' || *src == '\r') src++;
    /* Only the first line: libxml2 goes on with the document's own bytes ("Bytes: 0x53 0x45"). */
    size_t n = strcspn(src, "\n\r");
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\t')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static void status_set(dossier_xml_status *st, int code, int line, const char *fmt, ...) {
    if (st == NULL) return;
    st->code = code;
    st->line = line;
    char buf[sizeof st->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    copy_trimmed(st->message, sizeof st->message, buf);
}

/* Entity errors get DOSSIER_XML_REFUSED rather than "malformed": they are the refusal of an entity
 * reference (an undeclared entity is a reference Dossier refuses, not a typo it reports). */
static int is_entity_error(int code) {
    return code == XML_ERR_UNDECLARED_ENTITY || code == XML_WAR_UNDECLARED_ENTITY ||
           code == XML_ERR_ENTITY_LOOP || code == XML_ERR_ENTITY_PE_INTERNAL ||
           code == XML_ERR_ENTITY_BOUNDARY ||
           code == XML_ERR_UNPARSED_ENTITY || code == XML_ERR_EXT_ENTITY_STANDALONE ||
           code == XML_ERR_ENTITY_IS_EXTERNAL || code == XML_ERR_ENTITY_IS_PARAMETER;
}

/* The thread's structured error handler. libxml2 sends to it what has no parser context with a handler
 * of its own (and, for xmlParseInNodeContext, everything): we install ours around our calls so nothing
 * is printed, and put the caller's back before returning (or calling back). It is per-thread state. */
typedef struct {
    xmlStructuredErrorFunc fn;
    void *ctx;
} error_handler;

static error_handler error_handler_swap(xmlStructuredErrorFunc fn, void *ctx) {
    error_handler old = { xmlStructuredError, xmlStructuredErrorContext };
    xmlSetStructuredErrorFunc(ctx, fn);
    return old;
}

static void error_handler_restore(error_handler old) { xmlSetStructuredErrorFunc(old.ctx, old.fn); }

/* ---------------------------------------------------------------------------------------------- */
/* Scan state                                                                                      */

/* How a position in libxml2's decoded (UTF-8) buffer maps back to the file, see offset_of. */
enum { ENC_UNKNOWN = -1, ENC_GENERIC, ENC_SINGLE_BYTE, ENC_UTF16, ENC_UTF8 };

typedef struct {
    xmlParserCtxtPtr ctxt;
    int fd;
    char *readahead;                /* libxml2 asks for 4000 bytes at a time: read larger blocks */
    size_t readahead_start, readahead_end;
    unsigned options;
    dossier_xml_record_fn fn;
    void *fn_ctx;
    dossier_xml_status *status;
    error_handler caller_handler;   /* the thread's handler before the scan: restored around callbacks */

    /* The paths, as local names interned in the parser's dictionary: SAX2 hands over interned names
       (the tree builder relies on it), so components compare by pointer. */
    int npaths;
    const xmlChar **components;     /* all paths' components, one after the other */
    int *first, *len;               /* per path: index of its first component, number of components */
    int *matched;                   /* per path: leading components matched by the open elements */

    int depth;                      /* open elements */

    /* Bare copies of the open elements that are on a path (a prefix of one), from the root down: the
       parents of a coming record. Only they can be ancestors of a record. */
    xmlNodePtr *chain;
    int nchain, chain_cap;
    unsigned ns_generation;         /* bumped when a chain node with namespace declarations comes or goes */
    unsigned ns_built_generation;
    char *ns_text;                  /* the chain's in-scope declarations as attribute text */
    size_t ns_len, ns_cap;

    xmlNodePtr record;              /* the record being built, NULL outside records */
    int record_depth, record_path;
    uint64_t record_start;

    int enc_class;
    int have_last;                  /* last converted position, to count only the gap next time */
    uint64_t last_decoded, last_offset;
    char encoding[64];
    char *encoding_out;
    size_t encoding_capacity;

    int failed;                     /* status filled; stop at the next event */
    int halted;
    int stop_value;                 /* the callback's non-zero value */
} scan_state;

static void scan_fail(scan_state *s, int code, int line, const char *fmt, ...) {
    if (s->failed || s->stop_value) return;   /* the first reason is the one to report */
    s->failed = 1;
    if (s->status == NULL) return;
    char buf[sizeof s->status->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    status_set(s->status, code, line, "%s", buf);
}

static int current_line(scan_state *s) {
    return (s->ctxt != NULL && s->ctxt->input != NULL) ? s->ctxt->input->line : 0;
}

/* Stops the parser from a SAX event (the only place where xmlStopParser is safe: the error handler
 * runs in the middle of the parser's work on its input buffer, which stopping frees). True when the
 * event must be ignored. */
static int stopped(scan_state *s) {
    if (s->failed && !s->halted) {
        s->halted = 1;
        xmlStopParser(s->ctxt);
    }
    return s->failed || s->stop_value;
}

/* The parser's structured error handler (ctxt->sax->serror). */
static void on_error(void *ud, error_ptr e) {
    scan_state *s = ud;
    if (e == NULL) return;
    int entity = is_entity_error(e->code);
    if (e->level < XML_ERR_ERROR && !entity) return;   /* warnings, e.g. a relative namespace URI */
    char message[400];
    copy_trimmed(message, sizeof message, e->message ? e->message : "parse error");
    if (entity)
        scan_fail(s, DOSSIER_XML_REFUSED, e->line, "the document uses an entity reference (%s); Dossier refuses entities", message);
    else
        scan_fail(s, DOSSIER_XML_MALFORMED, e->line, "%s", message);
}

/* The thread's handler during the scan: messages libxml2 raises without our parser context. */
static void on_stray_error(void *ud, error_ptr e) {
    scan_state *s = ud;
    if (e == NULL || e->level < XML_ERR_ERROR) return;
    scan_fail(s, DOSSIER_XML_MALFORMED, e->line, "%s", e->message ? e->message : "libxml2 error");
}

/* ---------------------------------------------------------------------------------------------- */
/* Offsets                                                                                         */

static int classify_encoding(const char *name) {
    if (name == NULL) return ENC_GENERIC;
    if (!strcasecmp(name, "UTF-8") || !strcasecmp(name, "UTF8")) return ENC_UTF8;
    if (!strncasecmp(name, "UTF-16", 6) || !strncasecmp(name, "UTF16", 5)) return ENC_UTF16;
    static const char *const single[] = { "ISO-8859-", "ISO8859", "ISO_8859", "LATIN", "WINDOWS-125",
                                          "CP125", "US-ASCII", "ASCII", "KOI8", NULL };
    for (int i = 0; single[i] != NULL; i++)
        if (!strncasecmp(name, single[i], strlen(single[i]))) return ENC_SINGLE_BYTE;
    return ENC_GENERIC;
}

/* Size in the file of the decoded UTF-8 text [a, b). */
static uint64_t original_size(const scan_state *s, const xmlChar *a, const xmlChar *b) {
    if (s->enc_class == ENC_UTF8) return (uint64_t)(b - a);
    uint64_t code_points = 0, supplementary = 0;
    for (const xmlChar *q = a; q < b; q++) {
        code_points += (*q & 0xC0) != 0x80;
        supplementary += *q >= 0xF0;
    }
    /* single-byte charsets: a byte per code point; UTF-16: 2 bytes, 4 for a surrogate pair */
    return s->enc_class == ENC_SINGLE_BYTE ? code_points : 2 * (code_points + supplementary);
}

/* Offset in the file of position p of the current input buffer. Unconverted input (UTF-8) is the file's
 * bytes: consumed + (p - base). Converted input is libxml2's UTF-8 copy, and rawconsumed counts the file
 * bytes decoded so far, so offset = rawconsumed - size in the file of the decoded text [p, end). That
 * size is counted here for the common encodings: xmlByteConsumed re-encodes the rest of the buffer on
 * every call (10-20x slower), and is left for the others, with cur moved to p. Returns UINT64_MAX when
 * libxml2 cannot tell. */
static uint64_t offset_of(scan_state *s, const xmlChar *p) {
    xmlParserInputPtr in = s->ctxt->input;
    if (in->buf == NULL || in->buf->encoder == NULL) return (uint64_t)in->consumed + (uint64_t)(p - in->base);
    if (s->enc_class == ENC_UNKNOWN) s->enc_class = classify_encoding(in->buf->encoder->name);
    if (s->enc_class == ENC_GENERIC) {
        const xmlChar *saved = in->cur;
        in->cur = p;
        long r = xmlByteConsumed(s->ctxt);
        in->cur = saved;
        return r < 0 ? UINT64_MAX : (uint64_t)r;
    }
    uint64_t decoded = (uint64_t)in->consumed + (uint64_t)(p - in->base);
    uint64_t r;
    if (s->have_last && s->last_decoded >= in->consumed && s->last_decoded <= decoded)
        /* the previous position (a record's start) is still buffered: count only the gap */
        r = s->last_offset + original_size(s, in->base + (s->last_decoded - in->consumed), p);
    else
        r = (uint64_t)in->buf->rawconsumed - original_size(s, p, in->end);
    s->have_last = 1;
    s->last_decoded = decoded;
    s->last_offset = r;
    return r;
}

/* ---------------------------------------------------------------------------------------------- */
/* Ancestors and their namespaces                                                                  */

static int ns_append(scan_state *s, const char *text, size_t n) {
    if (s->ns_len + n + 1 > s->ns_cap) {
        size_t cap = (s->ns_len + n + 1) * 2;
        char *p = realloc(s->ns_text, cap);
        if (p == NULL) return -1;
        s->ns_text = p;
        s->ns_cap = cap;
    }
    memcpy(s->ns_text + s->ns_len, text, n);
    s->ns_len += n;
    s->ns_text[s->ns_len] = 0;
    return 0;
}

/* Escaped so the text parses back to the same URI as an attribute value (tabs and newlines too, which
 * attribute-value normalisation would otherwise turn into spaces). */
static int ns_append_escaped(scan_state *s, const xmlChar *v) {
    for (const xmlChar *c = v; *c; c++) {
        const char *e = NULL;
        switch (*c) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '"': e = "&quot;"; break;
        case '\t': e = "&#9;"; break;
        case '\n': e = "&#10;"; break;
        case '\r': e = "&#13;"; break;
        default: break;
        }
        if (e != NULL ? ns_append(s, e, strlen(e)) : ns_append(s, (const char *)c, 1)) return -1;
    }
    return 0;
}

/* The in-scope declarations of the chain, outermost first, each prefix once (the innermost wins).
 * Rebuilt only when the chain's declarations changed: usually once per file. */
static const char *namespace_declarations(scan_state *s) {
    if (s->ns_text != NULL && s->ns_built_generation == s->ns_generation) return s->ns_text;
    s->ns_len = 0;
    if (ns_append(s, "", 0)) return NULL;
    for (int i = 0; i < s->nchain; i++)
        for (xmlNsPtr ns = s->chain[i]->nsDef; ns != NULL; ns = ns->next) {
            int shadowed = 0;
            for (int j = i + 1; j < s->nchain && !shadowed; j++)
                for (xmlNsPtr inner = s->chain[j]->nsDef; inner != NULL && !shadowed; inner = inner->next)
                    shadowed = xmlStrEqual(inner->prefix, ns->prefix);
            if (shadowed) continue;
            if (ns_append(s, " xmlns", 6)) return NULL;
            if (ns->prefix != NULL && (ns_append(s, ":", 1) || ns_append(s, (const char *)ns->prefix, strlen((const char *)ns->prefix))))
                return NULL;
            if (ns_append(s, "=\"", 2) || ns_append_escaped(s, ns->href ? ns->href : BAD_CAST "") || ns_append(s, "\"", 1))
                return NULL;
        }
    s->ns_built_generation = s->ns_generation;
    return s->ns_text;
}

/* A bare copy of an element on a path: its name, its namespace declarations and its namespace. */
static void push_ancestor(scan_state *s, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI,
                          int nb_namespaces, const xmlChar **namespaces) {
    xmlDocPtr doc = s->ctxt->myDoc;
    if (doc == NULL) { scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "libxml2 created no document"); return; }
    if (s->nchain == s->chain_cap) {
        int cap = s->chain_cap ? s->chain_cap * 2 : 16;
        xmlNodePtr *p = realloc(s->chain, (size_t)cap * sizeof *p);
        if (p == NULL) { scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "out of memory"); return; }
        s->chain = p;
        s->chain_cap = cap;
    }
    xmlNodePtr node = xmlNewDocNode(doc, NULL, localname, NULL);
    if (node == NULL) { scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "out of memory"); return; }
    if (s->nchain == 0) xmlAddChild((xmlNodePtr)doc, node);
    else xmlAddChild(s->chain[s->nchain - 1], node);
    for (int i = 0; i < nb_namespaces; i++) xmlNewNs(node, namespaces[2 * i + 1], namespaces[2 * i]);
    if (node->nsDef != NULL) s->ns_generation++;
    if (URI != NULL) node->ns = xmlSearchNs(doc, node, prefix);
    s->chain[s->nchain++] = node;
}

static void pop_ancestor(scan_state *s) {
    xmlNodePtr node = s->chain[--s->nchain];
    if (node->nsDef != NULL) s->ns_generation++;
    xmlUnlinkNode(node);
    xmlFreeNode(node);
}

/* ---------------------------------------------------------------------------------------------- */
/* SAX2 events                                                                                     */

static void on_start_document(void *ud) {
    scan_state *s = ud;
    /* The tree builder's document: records are built in it. It must exist before the DTD is read, or
       libxml2's "SAX compatibility" code would store entity declarations in a document of its own. */
    xmlSAX2StartDocument(s->ctxt);
}

static void note_encoding(scan_state *s) {
    xmlParserInputPtr in = s->ctxt->input;
    const char *name = (in->buf != NULL && in->buf->encoder != NULL) ? in->buf->encoder->name : NULL;
    if (name != NULL && classify_encoding(name) == ENC_UTF8) name = NULL;
    snprintf(s->encoding, sizeof s->encoding, "%s", name ? name : "");
    if (s->encoding_out != NULL && s->encoding_capacity > 0)
        snprintf(s->encoding_out, s->encoding_capacity, "%s", s->encoding);
}

static void begin_record(scan_state *s, int path, int depth, const xmlChar *localname, const xmlChar *prefix,
                         const xmlChar *URI, int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                         int nb_defaulted, const xmlChar **attributes) {
    xmlParserInputPtr in = s->ctxt->input;
    /* input->cur is at the '>' or "/>" ending the start tag, still buffered whole */
    const xmlChar *p = in->cur;
    while (p > in->base && *p != '<') p--;
    if (*p != '<') { scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "the start of a record is no longer buffered"); return; }
    s->record_start = offset_of(s, p);
    if (s->record_start == UINT64_MAX) { scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "libxml2 cannot tell a record's offset"); return; }
    if (s->ctxt->myDoc == NULL || s->nchain != depth) {
        scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "the record's ancestors are missing");
        return;
    }
    xmlNodePtr parent = depth > 0 ? s->chain[depth - 1] : NULL;
    /* Outside records the tree builder's node stack is empty: make the bare parent its current node, so
       the record is added to it and its prefixes resolve through the chain. Its end pops back to NULL. */
    s->ctxt->node = parent;
    xmlSAX2StartElementNs(s->ctxt, localname, prefix, URI, nb_namespaces, namespaces, nb_attributes, nb_defaulted, attributes);
    if (s->ctxt->node == NULL || s->ctxt->node == parent) {
        s->ctxt->node = NULL;
        scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "out of memory");
        return;
    }
    s->record = s->ctxt->node;
    s->record_depth = depth;
    s->record_path = path;
}

static void end_record(scan_state *s) {
    xmlNodePtr record = s->record;
    s->record = NULL;
    uint64_t end = offset_of(s, s->ctxt->input->cur);
    const char *ns = namespace_declarations(s);
    int rc = 0;
    if (end == UINT64_MAX || end < s->record_start)
        scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "libxml2 cannot tell a record's offset");
    else if (ns == NULL)
        scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "out of memory");
    else if (s->fn != NULL) {
        /* The callback runs the caller's code: give it the caller's error handler back meanwhile. */
        error_handler ours = error_handler_swap(s->caller_handler.fn, s->caller_handler.ctx);
        rc = s->fn(s->fn_ctx, s->record_path, s->record_start, end - s->record_start, record, ns);
        error_handler_restore(ours);
    }
    xmlUnlinkNode(record);
    xmlFreeNode(record);
    if (rc != 0 && !s->failed) {
        s->stop_value = rc;
        xmlStopParser(s->ctxt);
    }
}

static void on_start_element(void *ud, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI,
                             int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted,
                             const xmlChar **attributes) {
    scan_state *s = ud;
    if (stopped(s)) return;
    int d = s->depth++;
    if (s->record != NULL) {
        xmlSAX2StartElementNs(s->ctxt, localname, prefix, URI, nb_namespaces, namespaces, nb_attributes,
                              nb_defaulted, attributes);
        return;
    }
    if (d == 0) note_encoding(s);
    int hit = -1, on_path = 0;
    for (int i = 0; i < s->npaths; i++) {
        if (s->matched[i] != d || d >= s->len[i] || s->components[s->first[i] + d] != localname) continue;
        s->matched[i] = d + 1;
        if (d + 1 == s->len[i]) { if (hit < 0) hit = i; }
        else on_path = 1;
    }
    if (hit >= 0)
        begin_record(s, hit, d, localname, prefix, URI, nb_namespaces, namespaces, nb_attributes, nb_defaulted, attributes);
    else if (on_path)
        push_ancestor(s, localname, prefix, URI, nb_namespaces, namespaces);
    /* else: on no path, so nothing below it can be a record: nothing is built */
}

static void on_end_element(void *ud, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI) {
    scan_state *s = ud;
    if (stopped(s)) return;
    int d = --s->depth;
    if (s->record != NULL) {
        xmlSAX2EndElementNs(s->ctxt, localname, prefix, URI);
        if (d == s->record_depth) end_record(s);
    } else if (s->nchain > d) {
        pop_ancestor(s);
    }
    for (int i = 0; i < s->npaths; i++)
        if (s->matched[i] > d) s->matched[i] = d;
}

/* Also the ignorableWhitespace handler: with the same function for both, libxml2 never tries to tell
 * blanks apart (which would look at the DTD and at ctxt->node), exactly like the default handlers. */
static void on_characters(void *ud, const xmlChar *ch, int len) {
    scan_state *s = ud;
    if (s->record != NULL && !stopped(s)) xmlSAX2Characters(s->ctxt, ch, len);
}

static void on_cdata(void *ud, const xmlChar *ch, int len) {
    scan_state *s = ud;
    if (s->record != NULL && !stopped(s)) xmlSAX2CDataBlock(s->ctxt, ch, len);
}

static void on_comment(void *ud, const xmlChar *value) {
    scan_state *s = ud;
    if (s->record != NULL && !stopped(s)) xmlSAX2Comment(s->ctxt, value);
}

static void on_pi(void *ud, const xmlChar *target, const xmlChar *data) {
    scan_state *s = ud;
    if (s->record != NULL && !stopped(s)) xmlSAX2ProcessingInstruction(s->ctxt, target, data);
}

/* Refusals: SAX events in the DTD and in content, where stopping the parser is safe. */
static void refuse(scan_state *s, int code, const char *what, const xmlChar *name) {
    scan_fail(s, code, current_line(s), what, name ? (const char *)name : "");
    stopped(s);
}

static void on_reference(void *ud, const xmlChar *name) {
    refuse(ud, DOSSIER_XML_REFUSED, "the document uses an entity reference (&%s;); Dossier refuses entities", name);
}

static void on_entity_decl(void *ud, const xmlChar *name, int type, const xmlChar *publicId, const xmlChar *systemId,
                           xmlChar *content) {
    (void)type; (void)publicId; (void)systemId; (void)content;
    refuse(ud, DOSSIER_XML_REFUSED,
           "the document's DTD declares an entity (%s); Dossier refuses such XML (entity expansion attacks)", name);
}

static void on_unparsed_entity_decl(void *ud, const xmlChar *name, const xmlChar *publicId, const xmlChar *systemId,
                                    const xmlChar *notationName) {
    (void)publicId; (void)systemId; (void)notationName;
    on_entity_decl(ud, name, 0, NULL, NULL, NULL);
}

static void on_internal_subset(void *ud, const xmlChar *name, const xmlChar *ExternalID, const xmlChar *SystemID) {
    if (ExternalID != NULL || SystemID != NULL)
        refuse(ud, DOSSIER_XML_REFUSED,
               "the document's DOCTYPE (%s) names an external DTD; Dossier refuses such XML (external entities)", name);
}

/* Called after the internal subset, in place of loading the external one (which never happens). A
 * parameter-entity reference to nothing declared is only a warning for libxml2: refuse it here too. */
static void on_external_subset(void *ud, const xmlChar *name, const xmlChar *ExternalID, const xmlChar *SystemID) {
    scan_state *s = ud;
    (void)ExternalID; (void)SystemID;
    if (s->ctxt->hasPErefs)
        refuse(s, DOSSIER_XML_REFUSED,
               "the document's DTD (%s) uses parameter entities; Dossier refuses such XML", name);
}

/* The parser applies an <!ATTLIST>'s default xmlns attributes and normalises the values of non-CDATA
 * attributes in the whole document, never in a slice parsed alone: such a document cannot be indexed. */
static void on_attribute_decl(void *ud, const xmlChar *elem, const xmlChar *fullname, int type, int def,
                              const xmlChar *defaultValue, xmlEnumerationPtr tree) {
    scan_state *s = ud;
    (void)def;
    if (tree != NULL) xmlFreeEnumeration(tree);   /* an attributeDecl handler owns the enumeration */
    if ((s->options & DOSSIER_XML_FOR_INDEX) && (defaultValue != NULL || type != XML_ATTRIBUTE_CDATA)) {
        scan_fail(s, DOSSIER_XML_NOT_INDEXABLE, current_line(s),
                  "the document's DTD declares a default or a type for attribute %s of %s (<!ATTLIST>), "
                  "which a record read back alone would not get", fullname ? (const char *)fullname : "",
                  elem ? (const char *)elem : "");
        stopped(s);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Input                                                                                           */

#define READAHEAD_SIZE (256 * 1024)

static int read_input(void *ud, char *buffer, int len) {
    scan_state *s = ud;
    /* After a failure, end the input: libxml2 goes on after most errors, without events, to the end of
       the file otherwise. (A negative return would make libxml2 print an I/O error.) */
    if (s->failed || s->stop_value || len <= 0) return 0;
    while (s->readahead_start == s->readahead_end) {
        ssize_t n = read(s->fd, s->readahead, READAHEAD_SIZE);
        if (n == 0) return 0;
        if (n > 0) { s->readahead_start = 0; s->readahead_end = (size_t)n; break; }
        if (errno == EINTR) continue;
        char why[128] = "read error";
        strerror_r(errno, why, sizeof why);
        scan_fail(s, DOSSIER_XML_UNREADABLE, 0, "the file cannot be read: %s", why);
        return 0;
    }
    size_t n = s->readahead_end - s->readahead_start;
    if (n > (size_t)len) n = (size_t)len;
    memcpy(buffer, s->readahead + s->readahead_start, n);
    s->readahead_start += n;
    return (int)n;
}

static int close_input(void *ud) {
    (void)ud;   /* the descriptor is the scan's, closed once the parser is gone */
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Scan                                                                                            */

static int intern_paths(scan_state *s, const char *const *paths, int path_count) {
    size_t total = 0;
    for (int i = 0; i < path_count; i++) {
        if (paths[i] == NULL || paths[i][0] != '/') return -1;
        for (const char *c = paths[i]; *c; c++) total += *c == '/';
    }
    s->npaths = path_count;
    s->components = calloc(total ? total : 1, sizeof *s->components);
    s->first = calloc((size_t)path_count, sizeof *s->first);
    s->len = calloc((size_t)path_count, sizeof *s->len);
    s->matched = calloc((size_t)path_count, sizeof *s->matched);
    if (!s->components || !s->first || !s->len || !s->matched) return -2;
    int k = 0;
    for (int i = 0; i < path_count; i++) {
        s->first[i] = k;
        const char *c = paths[i];
        while (*c == '/') {
            const char *name = ++c;
            while (*c && *c != '/') c++;
            if (c == name) return -1;            /* "//" or a trailing '/' */
            const xmlChar *interned = xmlDictLookup(s->ctxt->dict, BAD_CAST name, (int)(c - name));
            if (interned == NULL) return -2;
            s->components[k++] = interned;
        }
        s->len[i] = k - s->first[i];
    }
    return 0;
}

int dossier_xml_scan(const char *file, const char *const *paths, int path_count, unsigned options,
                     dossier_xml_record_fn fn, void *ctx, dossier_xml_status *status,
                     char *encoding_out, size_t encoding_capacity) {
    status_clear(status);
    if (encoding_out != NULL && encoding_capacity > 0) encoding_out[0] = 0;
    if (file == NULL || (path_count > 0 && paths == NULL) || path_count < 0) {
        status_set(status, DOSSIER_XML_INVALID_ARGUMENT, 0, "no file or paths given");
        return -1;
    }

    scan_state s;
    memset(&s, 0, sizeof s);
    s.options = options;
    s.fn = fn;
    s.fn_ctx = ctx;
    s.status = status;
    s.enc_class = ENC_UNKNOWN;
    s.encoding_out = encoding_out;
    s.encoding_capacity = encoding_capacity;
    s.readahead = malloc(READAHEAD_SIZE);
    if (s.readahead == NULL) {
        status_set(status, DOSSIER_XML_INTERNAL, 0, "out of memory");
        return -1;
    }
    s.fd = open(file, O_RDONLY | O_CLOEXEC);
    if (s.fd < 0) {
        free(s.readahead);
        char why[128] = "cannot open";
        strerror_r(errno, why, sizeof why);
        status_set(status, DOSSIER_XML_UNREADABLE, 0, "the file cannot be opened: %s", why);
        return -1;
    }

    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startDocument = on_start_document;
    sax.startElementNs = on_start_element;
    sax.endElementNs = on_end_element;
    sax.characters = on_characters;
    sax.ignorableWhitespace = on_characters;
    sax.cdataBlock = on_cdata;
    sax.comment = on_comment;
    sax.processingInstruction = on_pi;
    sax.reference = on_reference;
    sax.entityDecl = on_entity_decl;
    sax.unparsedEntityDecl = on_unparsed_entity_decl;
    sax.internalSubset = on_internal_subset;
    sax.externalSubset = on_external_subset;
    sax.attributeDecl = on_attribute_decl;
    sax.serror = on_error;
    /* Left NULL on purpose: getEntity, getParameterEntity and resolveEntity (nothing is ever looked up or
       loaded), elementDecl and notationDecl (nothing of the DTD is stored), endDocument. */

    s.caller_handler = error_handler_swap(on_stray_error, &s);
    int result = -1;
    s.ctxt = xmlCreateIOParserCtxt(&sax, &s, read_input, close_input, &s, XML_CHAR_ENCODING_NONE);
    if (s.ctxt == NULL) {
        scan_fail(&s, DOSSIER_XML_INTERNAL, 0, "libxml2 cannot create a parser");
        goto done;
    }
    /* XML_PARSE_NONET, never XML_PARSE_NOENT (substitution) nor XML_PARSE_DTDLOAD/DTDATTR/DTDVALID */
    xmlCtxtUseOptions(s.ctxt, XML_PARSE_NONET);
    int interned = intern_paths(&s, paths, path_count);
    if (interned == -1) {
        scan_fail(&s, DOSSIER_XML_INVALID_ARGUMENT, 0,
                  "a record path must be an absolute element path such as /contests/contest/entry");
        goto done;
    }
    if (interned < 0) {
        scan_fail(&s, DOSSIER_XML_INTERNAL, 0, "out of memory");
        goto done;
    }

    xmlParseDocument(s.ctxt);

    if (s.stop_value) result = s.stop_value;
    else if (s.failed) result = -1;
    else if (!s.ctxt->wellFormed) {
        scan_fail(&s, DOSSIER_XML_MALFORMED, current_line(&s), "parse error");
        result = -1;
    } else result = 0;

done:
    if (s.ctxt != NULL) {
        if (s.ctxt->myDoc != NULL) xmlFreeDoc(s.ctxt->myDoc);   /* with the bare ancestors, any half-built record */
        s.ctxt->myDoc = NULL;
        xmlFreeParserCtxt(s.ctxt);
    }
    error_handler_restore(s.caller_handler);
    close(s.fd);
    free(s.readahead);
    free(s.components);
    free(s.first);
    free(s.len);
    free(s.matched);
    free(s.chain);
    free(s.ns_text);
    if (result == -1 && status != NULL && status->code == DOSSIER_XML_OK)
        status_set(status, DOSSIER_XML_INTERNAL, 0, "the scan failed");
    return result;
}

/* ---------------------------------------------------------------------------------------------- */
/* Read-back                                                                                       */

typedef struct {
    int have;
    int code;
    int line;
    char message[512];
} error_sink;

static void sink_error(void *ud, error_ptr e) {
    error_sink *sink = ud;
    if (e == NULL || sink->have) return;
    int entity = is_entity_error(e->code);
    if (e->level < XML_ERR_ERROR && !entity) return;
    sink->have = 1;
    sink->code = entity ? DOSSIER_XML_REFUSED : DOSSIER_XML_MALFORMED;
    sink->line = e->line;
    copy_trimmed(sink->message, sizeof sink->message, e->message ? e->message : "parse error");
}

/* The slice is parsed as content of a placeholder element <w NAMESPACE_DECLARATIONS/> in a tiny
 * document (xmlParseInNodeContext), so prefixes declared on the record's ancestors resolve; the
 * document's encoding is the one xmlParseInNodeContext decodes the bytes from. */
xmlNodePtr dossier_xml_read_record(const void *bytes, size_t length, const char *encoding,
                                   const char *namespace_declarations, dossier_xml_status *status) {
    status_clear(status);
    if (bytes == NULL || length == 0 || length > INT_MAX) {
        status_set(status, DOSSIER_XML_INVALID_ARGUMENT, 0, "no record bytes, or too many");
        return NULL;
    }
    if (encoding != NULL && encoding[0] == 0) encoding = NULL;
    if (namespace_declarations == NULL) namespace_declarations = "";

    error_sink sink;
    memset(&sink, 0, sizeof sink);
    error_handler caller = error_handler_swap(sink_error, &sink);
    xmlNodePtr record = NULL, list = NULL;
    xmlDocPtr doc = NULL;

    if (encoding != NULL) {
        /* xmlParseInNodeContext would leak its parser on an unknown encoding: check first */
        xmlCharEncodingHandlerPtr handler = xmlFindCharEncodingHandler(encoding);
        if (handler == NULL) {
            status_set(status, DOSSIER_XML_INVALID_ARGUMENT, 0, "unknown encoding %s", encoding);
            goto done;
        }
        xmlCharEncCloseFunc(handler);
    }

    size_t decl_len = strlen(namespace_declarations);
    char *context = malloc(decl_len + 6);
    if (context == NULL) { status_set(status, DOSSIER_XML_INTERNAL, 0, "out of memory"); goto done; }
    memcpy(context, "<w ", 3);
    memcpy(context + 3, namespace_declarations, decl_len);
    memcpy(context + 3 + decl_len, "/>", 3);
    /* NOENT here only: without it libxml2 keeps an escaped '&' of an attribute as "&#38;", and the
       namespace URIs must come out as the scan saw them (where that quirk already happened once). No
       entity can be declared before a lone start tag, so there is nothing else to substitute. */
    doc = decl_len + 5 <= INT_MAX
        ? xmlReadMemory(context, (int)(decl_len + 5), NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOENT) : NULL;
    free(context);
    xmlNodePtr parent = doc ? xmlDocGetRootElement(doc) : NULL;
    if (parent == NULL) {
        status_set(status, DOSSIER_XML_INVALID_ARGUMENT, 0, "the namespace declarations do not parse (%s)",
                   sink.have ? sink.message : "no element");
        goto done;
    }
    if (doc->encoding != NULL) xmlFree((xmlChar *)doc->encoding);
    doc->encoding = encoding ? xmlStrdup(BAD_CAST encoding) : NULL;
    sink.have = 0;

    xmlParserErrors rc = xmlParseInNodeContext(parent, bytes, (int)length, XML_PARSE_NONET, &list);
    if (rc != XML_ERR_OK || sink.have) {
        if (sink.have) status_set(status, sink.code, sink.line, "%s", sink.message);
        else status_set(status, DOSSIER_XML_MALFORMED, 0, "the record does not parse (libxml2 error %d)", (int)rc);
        goto done;
    }
    if (list == NULL || list->type != XML_ELEMENT_NODE || list->next != NULL) {
        status_set(status, DOSSIER_XML_MALFORMED, 0, "the bytes are not exactly one element");
        goto done;
    }
    /* Attached, the record is freed with its document, and its namespaces (on the placeholder) with it. */
    xmlAddChild(parent, list);
    record = list;
    list = NULL;

done:
    if (list != NULL) xmlFreeNodeList(list);
    if (record == NULL && doc != NULL) xmlFreeDoc(doc);
    error_handler_restore(caller);
    return record;
}

void dossier_xml_free_record(xmlNodePtr record) {
    if (record == NULL) return;
    if (record->doc != NULL) xmlFreeDoc(record->doc);
    else xmlFreeNode(record);
}
