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

/* dossier_xml_scan_fields: an element of the record that a field's path goes through (the record
 * itself is node 0), with what the fields need of it. Nodes, attributes and texts live in arrays
 * reused from record to record, and refer to each other by index. */
typedef struct {
    const xmlChar *name;        /* interned */
    uint64_t mask;              /* the fields whose first `depth` components name the elements down to here */
    int depth;                  /* 0: the record */
    int structure;              /* has attributes or child elements */
    int want_text;              /* some field ends here */
    int has_text;
    size_t text_start, text_len;
    int first_child, last_child, next;   /* -1: none */
    int first_attr, nattr;      /* its attributes that a field names (the first of each name) */
} pnode;

typedef struct {
    const xmlChar *name;        /* interned */
    size_t start, len;          /* the value, in the text buffer */
} pattr;

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

    int in_record;                  /* inside a record (its element included) */
    xmlNodePtr record;              /* the record being built (not when projecting), NULL outside records */
    int record_depth, record_path;
    uint64_t record_start;

    int enc_class;
    int have_last;                  /* last converted position, to count only the gap next time */
    uint64_t last_decoded, last_offset;
    char encoding[64];
    char *encoding_out;
    size_t encoding_capacity;

    /* Projection (dossier_xml_scan_fields): fields read off the events, no tree. */
    int project;
    dossier_xml_fields_fn fields_fn;
    int nfields;
    const xmlChar **fcomp;          /* all fields' components, interned */
    int *ffirst, *flen;
    pnode *nodes;
    int nnodes, nodes_cap;
    int *stack;                     /* per open element of the record, by depth in it: its node or -1 */
    int stack_cap;
    pattr *attrs;
    int nattrs, attrs_cap;
    char *text;
    size_t text_len, text_cap;
    dossier_xml_item *items;
    int nitems, items_cap;
    dossier_xml_field *out;
    int exact;                      /* 0: a name or value the scanner cannot compare byte for byte */

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

/* Appends n bytes to a growable buffer (*buf, *len, *cap), kept NUL-terminated; -1 when out of memory. */
static int bytes_append(char **buf, size_t *len, size_t *cap, const char *bytes, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t c = (*len + n + 1) * 2;
        char *p = realloc(*buf, c);
        if (p == NULL) return -1;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, bytes, n);
    *len += n;
    (*buf)[*len] = 0;
    return 0;
}

static int ns_append(scan_state *s, const char *text, size_t n) {
    return bytes_append(&s->ns_text, &s->ns_len, &s->ns_cap, text, n);
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

/* ---------------------------------------------------------------------------------------------- */
/* Projection: a record's fields without its tree (dossier_xml_scan_fields)                         */

static int grow(void **array, int *cap, int need, size_t size) {
    if (need <= *cap) return 0;
    int c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *p = realloc(*array, (size_t)c * size);
    if (p == NULL) return -1;
    *array = p;
    *cap = c;
    return 0;
}

static int text_append(scan_state *s, const char *bytes, size_t n) {
    return bytes_append(&s->text, &s->text_len, &s->text_cap, bytes, n);
}

static int is_ascii(const xmlChar *name) {
    for (const xmlChar *c = name; *c; c++)
        if (*c >= 0x80) return 0;
    return 1;
}

/* A new node at `depth` for the fields of `mask`; its index, or -1 when out of memory. */
static int project_node(scan_state *s, const xmlChar *name, uint64_t mask, int depth) {
    if (grow((void **)&s->nodes, &s->nodes_cap, s->nnodes + 1, sizeof *s->nodes)) return -1;
    pnode *n = &s->nodes[s->nnodes];
    memset(n, 0, sizeof *n);
    n->name = name;
    n->mask = mask;
    n->depth = depth;
    n->first_child = n->last_child = n->next = -1;
    for (int f = 0; f < s->nfields; f++)
        if ((mask >> f & 1) && s->flen[f] == depth) n->want_text = 1;
    return s->nnodes++;
}

/* The attributes of node `n` that one of its fields names next (the first of each name), their values
 * copied. SAX2 gives an attribute value with its character references and the predefined entities
 * replaced, but for '&', which it leaves as "&#38;" for the tree builder to replace. */
static int project_attributes(scan_state *s, int n, int nb_attributes, const xmlChar **attributes) {
    pnode *node = &s->nodes[n];
    node->structure |= nb_attributes > 0;
    node->first_attr = s->nattrs;
    int depth = node->depth;
    uint64_t mask = node->mask;
    for (int i = 0; i < nb_attributes; i++) {
        const xmlChar *name = attributes[5 * i];
        int wanted = 0, hit = 0;
        for (int f = 0; f < s->nfields && !hit; f++) {
            if (!(mask >> f & 1) || s->flen[f] <= depth) continue;
            wanted = 1;
            hit = s->fcomp[s->ffirst[f] + depth] == name;
        }
        if (!hit) {
            if (wanted && !is_ascii(name)) s->exact = 0;
            continue;
        }
        int seen = 0;
        for (int a = s->nodes[n].first_attr; a < s->nattrs && !seen; a++) seen = s->attrs[a].name == name;
        if (seen) continue;
        if (grow((void **)&s->attrs, &s->attrs_cap, s->nattrs + 1, sizeof *s->attrs)) return -1;
        pattr *attr = &s->attrs[s->nattrs++];
        attr->name = name;
        attr->start = s->text_len;
        const xmlChar *v = attributes[5 * i + 3], *end = attributes[5 * i + 4];
        while (v < end) {
            const xmlChar *amp = memchr(v, '&', (size_t)(end - v));
            const xmlChar *stop = amp ? amp : end;
            if (text_append(s, (const char *)v, (size_t)(stop - v))) return -1;
            v = stop;
            if (amp == NULL) break;
            if (end - amp >= 5 && !memcmp(amp, "&#38;", 5)) {
                if (text_append(s, "&", 1)) return -1;
                v = amp + 5;
            } else {
                s->exact = 0;   /* not something SAX2 leaves: the tree decides */
                if (text_append(s, "&", 1)) return -1;
                v = amp + 1;
            }
        }
        attr->len = s->text_len - attr->start;
    }
    s->nodes[n].nattr = s->nattrs - s->nodes[n].first_attr;
    return 0;
}

/* An element starts at depth `rel` (> 0) in the record. */
static void project_start(scan_state *s, int rel, const xmlChar *localname, int nb_attributes, const xmlChar **attributes) {
    if (grow((void **)&s->stack, &s->stack_cap, rel + 1, sizeof *s->stack)) goto oom;
    int parent = s->stack[rel - 1], me = -1;
    if (parent >= 0) {
        s->nodes[parent].structure = 1;
        int depth = s->nodes[parent].depth;
        uint64_t pmask = s->nodes[parent].mask, mask = 0;
        int wanted = 0;
        for (int f = 0; f < s->nfields; f++) {
            if (!(pmask >> f & 1) || s->flen[f] <= depth) continue;
            wanted = 1;
            if (s->fcomp[s->ffirst[f] + depth] == localname) mask |= (uint64_t)1 << f;
        }
        if (mask) {
            me = project_node(s, localname, mask, depth + 1);
            if (me < 0) goto oom;
            if (s->nodes[parent].last_child >= 0) s->nodes[s->nodes[parent].last_child].next = me;
            else s->nodes[parent].first_child = me;
            s->nodes[parent].last_child = me;
            if (project_attributes(s, me, nb_attributes, attributes)) goto oom;
        } else if (wanted && !is_ascii(localname)) {
            s->exact = 0;
        }
    }
    s->stack[rel] = me;
    return;
oom:
    scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "out of memory");
}

/* Text or CDATA in the innermost open element of the record. */
static void project_text(scan_state *s, const xmlChar *ch, int len) {
    int n = s->stack[s->depth - 1 - s->record_depth];
    if (n < 0 || !s->nodes[n].want_text || s->nodes[n].structure) return;
    if (!s->nodes[n].has_text) {
        s->nodes[n].has_text = 1;
        s->nodes[n].text_start = s->text_len;
    }
    if (text_append(s, (const char *)ch, (size_t)len)) {
        scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "out of memory");
        return;
    }
    s->nodes[n].text_len += (size_t)len;
}

/* Item offsets are kept in `text` as start + 1 (0: an object) until the text buffer is final. */
static int push_item(scan_state *s, size_t start_plus_one, size_t len) {
    if (grow((void **)&s->items, &s->items_cap, s->nitems + 1, sizeof *s->items)) return -1;
    s->items[s->nitems].text = (const char *)(uintptr_t)start_plus_one;
    s->items[s->nitems].length = len;
    s->nitems++;
    return 0;
}

/* Field f of the record, as XMLFormat.value(in:at:) reads it off the record's tree. */
static int project_field(scan_state *s, int f) {
    int node = 0;
    s->out[f].count = 0;
    s->out[f].items = NULL;
    for (int j = 0; j < s->flen[f]; j++) {
        const xmlChar *c = s->fcomp[s->ffirst[f] + j];
        int first = s->nitems, count = 0, element = -1;
        pnode *n = &s->nodes[node];
        for (int a = n->first_attr; a < n->first_attr + n->nattr; a++)
            if (s->attrs[a].name == c) {
                if (push_item(s, s->attrs[a].start + 1, s->attrs[a].len)) return -1;
                count++;
                break;
            }
        for (int k = n->first_child; k >= 0; k = s->nodes[k].next) {
            pnode *child = &s->nodes[k];
            if (child->name != c) continue;
            if (push_item(s, child->structure ? 0 : child->text_start + 1, child->structure ? 0 : child->text_len)) return -1;
            count++;
            element = k;
        }
        if (count == 0) { s->nitems = first; return 0; }
        if (j == s->flen[f] - 1) {
            s->out[f].count = count;
            s->out[f].items = (const dossier_xml_item *)(uintptr_t)(first + 1);   /* made a pointer below */
            return 0;
        }
        s->nitems = first;
        /* Deeper: only through the one element found, when it is an object. */
        if (count != 1 || element < 0 || !s->nodes[element].structure) return 0;
        node = element;
    }
    return 0;
}

static void project_begin(scan_state *s, int nb_attributes, const xmlChar **attributes) {
    s->nnodes = s->nattrs = s->nitems = 0;
    s->text_len = 0;
    s->exact = 1;
    uint64_t all = s->nfields == 64 ? ~(uint64_t)0 : (((uint64_t)1 << s->nfields) - 1);
    if (grow((void **)&s->stack, &s->stack_cap, 1, sizeof *s->stack) || project_node(s, NULL, all, 0) != 0 ||
        project_attributes(s, 0, nb_attributes, attributes)) {
        scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "out of memory");
        return;
    }
    s->stack[0] = 0;
}

/* The record's fields into s->out, or 0 with s->exact cleared. Returns -1 when out of memory. */
static int project_end(scan_state *s) {
    if (!s->exact) return 0;
    for (int f = 0; f < s->nfields; f++)
        if (project_field(s, f)) return -1;
    for (int i = 0; i < s->nitems; i++) {
        uintptr_t at = (uintptr_t)s->items[i].text;
        s->items[i].text = at ? s->text + (at - 1) : NULL;
        if (at && s->text == NULL) s->items[i].text = "";
    }
    for (int f = 0; f < s->nfields; f++)
        if (s->out[f].count > 0) s->out[f].items = s->items + ((uintptr_t)s->out[f].items - 1);
    return 0;
}

/* The record's tree, parsed again from the file: for a record the projection cannot read. */
static xmlNodePtr project_reread(scan_state *s, uint64_t offset, uint64_t length, const char *ns) {
    char *bytes = malloc(length ? (size_t)length : 1);
    if (bytes == NULL) return NULL;
    size_t got = 0;
    while (got < length) {
        ssize_t n = pread(s->fd, bytes + got, (size_t)(length - got), (off_t)(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { free(bytes); return NULL; }
        got += (size_t)n;
    }
    dossier_xml_status st;
    xmlNodePtr record = dossier_xml_read_record(bytes, (size_t)length, s->encoding[0] ? s->encoding : NULL, ns, &st);
    free(bytes);
    return record;
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
    if (s->project) {
        s->in_record = 1;
        s->record_depth = depth;
        s->record_path = path;
        project_begin(s, nb_attributes, attributes);
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
    s->in_record = 1;
    s->record_depth = depth;
    s->record_path = path;
}

static void end_record(scan_state *s) {
    xmlNodePtr record = s->record;
    s->record = NULL;
    s->in_record = 0;
    uint64_t end = offset_of(s, s->ctxt->input->cur);
    const char *ns = namespace_declarations(s);
    int rc = 0;
    if (end == UINT64_MAX || end < s->record_start)
        scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "libxml2 cannot tell a record's offset");
    else if (ns == NULL)
        scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "out of memory");
    else if (s->project) {
        xmlNodePtr tree = NULL;
        if (project_end(s)) scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "out of memory");
        else if (!s->exact && (tree = project_reread(s, s->record_start, end - s->record_start, ns)) == NULL)
            scan_fail(s, DOSSIER_XML_INTERNAL, current_line(s), "a record cannot be read again from the file");
        else if (s->fields_fn != NULL) {
            error_handler ours = error_handler_swap(s->caller_handler.fn, s->caller_handler.ctx);
            rc = s->fields_fn(s->fn_ctx, s->record_path, s->record_start, end - s->record_start,
                              s->exact ? s->out : NULL, tree, ns);
            error_handler_restore(ours);
        }
        dossier_xml_free_record(tree);
    } else if (s->fn != NULL) {
        /* The callback runs the caller's code: give it the caller's error handler back meanwhile. */
        error_handler ours = error_handler_swap(s->caller_handler.fn, s->caller_handler.ctx);
        rc = s->fn(s->fn_ctx, s->record_path, s->record_start, end - s->record_start, record, ns);
        error_handler_restore(ours);
    }
    if (record != NULL) {
        xmlUnlinkNode(record);
        xmlFreeNode(record);
    }
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
    if (s->in_record) {
        if (s->project) project_start(s, d - s->record_depth, localname, nb_attributes, attributes);
        else xmlSAX2StartElementNs(s->ctxt, localname, prefix, URI, nb_namespaces, namespaces, nb_attributes,
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
    if (s->in_record) {
        if (!s->project) xmlSAX2EndElementNs(s->ctxt, localname, prefix, URI);
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
    if (!s->in_record || stopped(s)) return;
    if (s->project) project_text(s, ch, len);
    else xmlSAX2Characters(s->ctxt, ch, len);
}

static void on_cdata(void *ud, const xmlChar *ch, int len) {
    scan_state *s = ud;
    if (!s->in_record || stopped(s)) return;
    if (s->project) project_text(s, ch, len);
    else xmlSAX2CDataBlock(s->ctxt, ch, len);
}

static void on_comment(void *ud, const xmlChar *value) {
    scan_state *s = ud;
    if (s->record != NULL && !stopped(s)) xmlSAX2Comment(s->ctxt, value);   /* not when projecting: no tree */
}

static void on_pi(void *ud, const xmlChar *target, const xmlChar *data) {
    scan_state *s = ud;
    if (s->record != NULL && !stopped(s)) xmlSAX2ProcessingInstruction(s->ctxt, target, data);   /* idem */
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

/* The fields' components, interned like the paths'. */
static int intern_fields(scan_state *s, const char *const *components, const int *lengths, int field_count) {
    if (field_count < 0 || field_count > 64 || (field_count > 0 && (components == NULL || lengths == NULL))) return -1;
    int total = 0;
    for (int f = 0; f < field_count; f++) {
        if (lengths[f] < 1) return -1;
        total += lengths[f];
    }
    s->nfields = field_count;
    s->fcomp = calloc(total ? (size_t)total : 1, sizeof *s->fcomp);
    s->ffirst = calloc(field_count ? (size_t)field_count : 1, sizeof *s->ffirst);
    s->flen = calloc(field_count ? (size_t)field_count : 1, sizeof *s->flen);
    s->out = calloc(field_count ? (size_t)field_count : 1, sizeof *s->out);
    if (!s->fcomp || !s->ffirst || !s->flen || !s->out) return -2;
    int k = 0;
    for (int f = 0; f < field_count; f++) {
        s->ffirst[f] = k;
        s->flen[f] = lengths[f];
        for (int j = 0; j < lengths[f]; j++, k++) {
            const char *name = components[k];
            if (name == NULL || !name[0] || !is_ascii(BAD_CAST name)) return -1;
            s->fcomp[k] = xmlDictLookup(s->ctxt->dict, BAD_CAST name, -1);
            if (s->fcomp[k] == NULL) return -2;
        }
    }
    return 0;
}

static int scan_file(const char *file, const char *const *paths, int path_count, unsigned options,
                     dossier_xml_record_fn fn, dossier_xml_fields_fn fields_fn,
                     const char *const *components, const int *lengths, int field_count,
                     void *ctx, dossier_xml_status *status, char *encoding_out, size_t encoding_capacity) {
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
    s.fields_fn = fields_fn;
    s.project = fields_fn != NULL;
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
    if (s.project) {
        int fields = intern_fields(&s, components, lengths, field_count);
        if (fields == -1) {
            scan_fail(&s, DOSSIER_XML_INVALID_ARGUMENT, 0, "a field is a path of at most 64 non-empty ASCII names");
            goto done;
        }
        if (fields < 0) {
            scan_fail(&s, DOSSIER_XML_INTERNAL, 0, "out of memory");
            goto done;
        }
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
    free(s.fcomp);
    free(s.ffirst);
    free(s.flen);
    free(s.out);
    free(s.nodes);
    free(s.stack);
    free(s.attrs);
    free(s.text);
    free(s.items);
    if (result == -1 && status != NULL && status->code == DOSSIER_XML_OK)
        status_set(status, DOSSIER_XML_INTERNAL, 0, "the scan failed");
    return result;
}

int dossier_xml_scan(const char *file, const char *const *paths, int path_count, unsigned options,
                     dossier_xml_record_fn fn, void *ctx, dossier_xml_status *status,
                     char *encoding_out, size_t encoding_capacity) {
    return scan_file(file, paths, path_count, options, fn, NULL, NULL, NULL, 0, ctx, status, encoding_out,
                     encoding_capacity);
}

int dossier_xml_scan_fields(const char *file, const char *const *paths, int path_count, unsigned options,
                            const char *const *components, const int *lengths, int field_count,
                            dossier_xml_fields_fn fn, void *ctx, dossier_xml_status *status,
                            char *encoding_out, size_t encoding_capacity) {
    if (fn == NULL) {
        status_clear(status);
        status_set(status, DOSSIER_XML_INVALID_ARGUMENT, 0, "no callback given");
        return -1;
    }
    return scan_file(file, paths, path_count, options, NULL, fn, components, lengths, field_count, ctx, status,
                     encoding_out, encoding_capacity);
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
