/* Tests of dossier_xml_index (not built by SwiftPM; see run.sh).
 *   test_xml_index all DATADIR          every check; DATADIR holds gen.py's files and their .truth
 *   test_xml_index cases DATADIR        only the small documents the test writes (quick, for valgrind)
 *   test_xml_index count FILE PATH [N]  scan N times (default 1) with a callback that only counts;
 *                                       prints records and the best MB/s
 * Prints "ok"/"FAIL" lines on stdout; exit status 1 when a check failed. Nothing may reach stderr. */
#include "dossier_xml_index.h"

#include <libxml/xmlreader.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int failures;   /* only touched from the main thread */

static void check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!ok) failures++;
    fflush(stdout);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------------------------------- */
/* Tree helpers                                                                                    */

static char *dump(xmlNodePtr node) {
    xmlBufferPtr b = xmlBufferCreate();
    /* Non-ASCII attribute text is written raw or as character references depending on doc->encoding,
       which differs between the scan's document and the read-back's: dump both without it. */
    const xmlChar *encoding = node->doc->encoding;
    ((xmlDocPtr)node->doc)->encoding = NULL;
    xmlNodeDump(b, node->doc, node, 0, 0);
    ((xmlDocPtr)node->doc)->encoding = encoding;
    char *s = strdup((const char *)xmlBufferContent(b));
    xmlBufferFree(b);
    return s;
}

static const char *href(xmlNsPtr ns) { return ns ? (const char *)ns->href : "(none)"; }

/* Same names, namespaces, attributes and text all the way down. Returns NULL or what differs. */
static const char *same_tree(xmlNodePtr a, xmlNodePtr b) {
    if (a->type != b->type) return "node type";
    if (!xmlStrEqual(a->name, b->name)) return "name";
    if (a->type == XML_ELEMENT_NODE) {
        if (strcmp(href(a->ns), href(b->ns))) return "element namespace";
        xmlAttrPtr x = a->properties, y = b->properties;
        for (; x && y; x = x->next, y = y->next) {
            if (!xmlStrEqual(x->name, y->name)) return "attribute name";
            if (strcmp(href(x->ns), href(y->ns))) return "attribute namespace";
            xmlChar *u = xmlNodeGetContent((xmlNodePtr)x), *v = xmlNodeGetContent((xmlNodePtr)y);
            int eq = xmlStrEqual(u, v);
            xmlFree(u); xmlFree(v);
            if (!eq) return "attribute value";
        }
        if (x || y) return "attribute count";
    } else if (!xmlStrEqual(a->content, b->content)) return "content";
    xmlNodePtr c = a->children, d = b->children;
    for (; c && d; c = c->next, d = d->next) {
        const char *why = same_tree(c, d);
        if (why) return why;
    }
    return (c || d) ? "child count" : NULL;
}

/* A lookup field as gen.py's truth has it: child element text by local name, else attribute. */
static char *field(xmlNodePtr n, const char *name) {
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name)) return (char *)xmlNodeGetContent(c);
    for (xmlAttrPtr a = n->properties; a; a = a->next)
        if (!strcmp((const char *)a->name, name)) return (char *)xmlNodeGetContent((xmlNodePtr)a);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Whole files against gen.py's truth                                                              */

typedef struct { uint64_t start, len; char *email, *phone; } truth_row;

/* The current XMLFormat.scan, in C: xmlTextReader, the path of local names, xmlTextReaderExpand per
 * record. Walked in step with the scan, to compare its trees with the scan's. */
typedef struct {
    xmlTextReaderPtr reader;
    const char *target[3];
    const char *stack[64];
    int depth, after_record;
} reader_walk;

#if LIBXML_VERSION >= 21200
static void quiet(void *ctx, const xmlError *e) { (void)ctx; (void)e; }
#else
static void quiet(void *ctx, xmlErrorPtr e) { (void)ctx; (void)e; }
#endif

static xmlNodePtr reader_next(reader_walk *w) {
    int st = w->after_record ? xmlTextReaderNext(w->reader) : xmlTextReaderRead(w->reader);
    w->after_record = 0;
    for (; st == 1; st = xmlTextReaderRead(w->reader)) {
        int type = xmlTextReaderNodeType(w->reader);
        if (type == XML_READER_TYPE_ELEMENT) {
            int depth = xmlTextReaderDepth(w->reader);
            if (w->depth > depth) w->depth = depth;
            if (w->depth >= 64) return NULL;
            w->stack[w->depth++] = (const char *)xmlTextReaderConstLocalName(w->reader);
            int match = w->depth == 3;
            for (int i = 0; match && i < 3; i++) match = !strcmp(w->stack[i], w->target[i]);
            if (match) {
                w->depth--;
                w->after_record = 1;
                return xmlTextReaderExpand(w->reader);
            }
            if (xmlTextReaderIsEmptyElement(w->reader) == 1) w->depth--;
        } else if (type == XML_READER_TYPE_END_ELEMENT && w->depth > 0) {
            w->depth--;
        }
    }
    return NULL;
}

typedef struct {
    const char *file;
    truth_row *rows;
    long nrows, seen;
    int fd;
    char encoding[64];
    char *slice; size_t slice_cap;
    long bad_offset, bad_fields, bad_readback, bad_dump, bad_tree, bad_reader;
    reader_walk walk;
    char first_problem[600];
    int result;
    dossier_xml_status status;
} verify_job;

static void problem(verify_job *j, const char *fmt, ...) {
    if (j->first_problem[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->first_problem, sizeof j->first_problem, fmt, ap);
    va_end(ap);
}

static int load_truth(verify_job *j) {
    char path[4096];
    snprintf(path, sizeof path, "%s.truth", j->file);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long cap = 1024;
    j->rows = malloc(cap * sizeof *j->rows);
    char *line = NULL; size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        line[strcspn(line, "\n")] = 0;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL, *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
        if (!t3) continue;
        *t2 = *t3 = 0;
        if (j->nrows == cap) j->rows = realloc(j->rows, (cap *= 2) * sizeof *j->rows);
        truth_row *r = &j->rows[j->nrows++];
        r->start = strtoull(line, NULL, 10);
        r->len = strtoull(t1 + 1, NULL, 10);
        r->email = strdup(t2 + 1);
        r->phone = strdup(t3 + 1);
    }
    free(line);
    fclose(f);
    return 0;
}

static int verify_record(void *ctx, int path_index, uint64_t offset, uint64_t length, xmlNodePtr record,
                         const char *ns) {
    verify_job *j = ctx;
    long k = j->seen++;
    if (path_index != 0 || k >= j->nrows || offset != j->rows[k].start || length != j->rows[k].len) {
        j->bad_offset++;
        problem(j, "record %ld: got offset %llu length %llu, truth %llu %llu", k, (unsigned long long)offset,
                (unsigned long long)length, k < j->nrows ? (unsigned long long)j->rows[k].start : 0ULL,
                k < j->nrows ? (unsigned long long)j->rows[k].len : 0ULL);
        return 0;
    }
    char *e = field(record, "email"), *p = field(record, "phone");
    if (strcmp(e ? e : "", j->rows[k].email) || strcmp(p ? p : "", j->rows[k].phone)) {
        j->bad_fields++;
        problem(j, "record %ld: email/phone %s %s, truth %s %s", k, e, p, j->rows[k].email, j->rows[k].phone);
    }
    xmlFree(e); xmlFree(p);

    if (length > j->slice_cap) j->slice = realloc(j->slice, j->slice_cap = length);
    if (pread(j->fd, j->slice, length, (off_t)offset) != (ssize_t)length) { j->bad_readback++; return 0; }
    dossier_xml_status st;
    xmlNodePtr back = dossier_xml_read_record(j->slice, length, j->encoding, ns, &st);
    if (!back) {
        j->bad_readback++;
        problem(j, "record %ld: read-back failed: code %d line %d: %s", k, st.code, st.line, st.message);
        return 0;
    }
    char *d1 = dump(record), *d2 = dump(back);
    if (strcmp(d1, d2)) {
        j->bad_dump++;
        problem(j, "record %ld: dumps differ:\n  scan %.200s\n  back %.200s", k, d1, d2);
    }
    const char *why = same_tree(record, back);
    if (why) { j->bad_tree++; problem(j, "record %ld: trees differ: %s", k, why); }
    free(d2);
    xmlNodePtr expanded = reader_next(&j->walk);
    char *d3 = expanded ? dump(expanded) : NULL;
    why = expanded ? same_tree(record, expanded) : "xmlTextReader found no record";
    if (why || strcmp(d1, d3)) {
        j->bad_reader++;
        problem(j, "record %ld: differs from xmlTextReaderExpand's: %s\n  scan   %.200s\n  reader %.200s", k,
                why ? why : "dump", d1, d3 ? d3 : "-");
    }
    free(d1); free(d3);
    dossier_xml_free_record(back);
    return 0;
}

static void *verify_file(void *arg) {
    verify_job *j = arg;
    const char *paths[] = { "/contests/contest/entry" };
    j->fd = open(j->file, O_RDONLY);
    j->walk.reader = xmlReaderForFile(j->file, NULL, XML_PARSE_NONET);
    xmlTextReaderSetStructuredErrorHandler(j->walk.reader, quiet, NULL);
    j->walk.target[0] = "contests"; j->walk.target[1] = "contest"; j->walk.target[2] = "entry";
    j->result = dossier_xml_scan(j->file, paths, 1, DOSSIER_XML_FOR_INDEX, verify_record, j, &j->status,
                                 j->encoding, sizeof j->encoding);
    close(j->fd);
    xmlFreeTextReader(j->walk.reader);
    return NULL;
}

static void report_verify(verify_job *j, const char *want_encoding, double seconds) {
    const char *name = strrchr(j->file, '/') ? strrchr(j->file, '/') + 1 : j->file;
    int ok = j->result == 0 && j->seen == j->nrows && !j->bad_offset && !j->bad_fields && !j->bad_readback &&
             !j->bad_dump && !j->bad_tree && !j->bad_reader && !strcmp(j->encoding, want_encoding);
    check(ok, "%s: %ld/%ld records (encoding \"%s\"): offsets %ld wrong, fields %ld, read-back %ld failed, "
              "read-back dump %ld / tree %ld differ, xmlTextReaderExpand's tree %ld differ (%.1fs)%s%s%s%s",
          name, j->seen, j->nrows, j->encoding, j->bad_offset, j->bad_fields, j->bad_readback, j->bad_dump,
          j->bad_tree, j->bad_reader, seconds, j->result ? " scan: " : "", j->result ? j->status.message : "",
          j->first_problem[0] ? "\n     first: " : "", j->first_problem);
}

static void free_job(verify_job *j) {
    for (long i = 0; i < j->nrows; i++) { free(j->rows[i].email); free(j->rows[i].phone); }
    free(j->rows);
    free(j->slice);
}

static void test_truth_file(const char *dir, const char *name, const char *want_encoding) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    verify_job j;
    memset(&j, 0, sizeof j);
    j.file = path;
    if (load_truth(&j)) { check(0, "%s: no truth file", name); return; }
    double t0 = now();
    verify_file(&j);
    report_verify(&j, want_encoding, now() - t0);
    free_job(&j);
}

/* Two files verified at once on two threads: no shared state. */
static void test_threads(const char *dir, const char *a, const char *b) {
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s/%s", dir, a);
    snprintf(pb, sizeof pb, "%s/%s", dir, b);
    verify_job ja, jb;
    memset(&ja, 0, sizeof ja); memset(&jb, 0, sizeof jb);
    ja.file = pa; jb.file = pb;
    if (load_truth(&ja) || load_truth(&jb)) { check(0, "threads: no truth files"); return; }
    pthread_t ta, tb;
    double t0 = now();
    pthread_create(&ta, NULL, verify_file, &ja);
    pthread_create(&tb, NULL, verify_file, &jb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    printf("     (two threads at once:)\n");
    report_verify(&ja, "", now() - t0);
    report_verify(&jb, "ISO-8859-2", now() - t0);
    free_job(&ja); free_job(&jb);
}

/* ---------------------------------------------------------------------------------------------- */
/* Small documents written by the test                                                             */

typedef struct { int path; uint64_t off, len; char *dump, *ns, *href; } got_record;
typedef struct {
    got_record r[32];
    int n, stop_at, stop_value;
    char encoding[64];
    dossier_xml_status st;
    int rc;
} collected;

static int collect(void *ctx, int path_index, uint64_t offset, uint64_t length, xmlNodePtr record, const char *ns) {
    collected *c = ctx;
    if (c->n < 32) {
        got_record *g = &c->r[c->n];
        g->path = path_index; g->off = offset; g->len = length;
        g->dump = dump(record); g->ns = strdup(ns); g->href = strdup(href(record->ns));
    }
    c->n++;
    return (c->stop_at && c->n == c->stop_at) ? c->stop_value : 0;
}

static void free_collected(collected *c) {
    for (int i = 0; i < c->n && i < 32; i++) { free(c->r[i].dump); free(c->r[i].ns); free(c->r[i].href); }
}

static char tmpdir[4096];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static const char *temp_path(const char *name) {
    static char path[4096 + 64];   /* main thread only */
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static collected scan_text(const char *name, const char *text, const char *const *paths, int npaths, unsigned options,
                           int stop_at) {
    collected c;
    memset(&c, 0, sizeof c);
    c.stop_at = stop_at; c.stop_value = 7;
    const char *path = temp_path(name);
    write_file(path, text);
    c.rc = dossier_xml_scan(path, paths, npaths, options, collect, &c, &c.st, c.encoding, sizeof c.encoding);
    return c;
}

static const char *const entry_path[] = { "/contests/contest/entry" };

static void test_two_paths(void) {
    const char *doc =
        "<root>\n"
        " <a><rec id=\"1\"/></a>\n"
        " <b><item>x</item><rec id=\"not at a path\"/></b>\n"
        " <a><rec id=\"2\"><rec id=\"nested\"/><item>in</item></rec><other><rec/></other></a>\n"
        " <a><rec id=\"3\"\r\n  ></rec   ></a><!-- <rec id=\"4\"/> -->\n"
        "</root>\n";
    const char *paths[] = { "/root/a/rec", "/root/b/item" };
    const char *want[] = { "<rec id=\"1\"/>", "<item>x</item>",
                           "<rec id=\"2\"><rec id=\"nested\"/><item>in</item></rec>", "<rec id=\"3\"\r\n  ></rec   >" };
    int want_path[] = { 0, 1, 0, 0 };
    collected c = scan_text("two_paths.xml", doc, paths, 2, DOSSIER_XML_FOR_INDEX, 0);
    int ok = c.rc == 0 && c.n == 4;
    for (int i = 0; ok && i < 4; i++) {
        const char *at = strstr(doc, want[i]);
        ok = at && c.r[i].path == want_path[i] && c.r[i].off == (uint64_t)(at - doc) && c.r[i].len == strlen(want[i]) &&
             !strcmp(c.r[i].ns, "");
    }
    check(ok, "two paths in one file, self-closing, nested match inside a record, decoys: %d records (rc %d %s)",
          c.n, c.rc, c.st.message);
    free_collected(&c);
}

static void test_namespaces(void) {
    const char *doc =
        "<?xml version=\"1.0\"?>\n"
        "<c:contests xmlns:c=\"urn:c\" xmlns=\"urn:d\" xmlns:q=\"urn:q?a=1&amp;b=2\">"
        "<c:contest xmlns:c=\"urn:c2\"><c:entry c:k=\"v\" q:z=\"1\"><email>t</email><c:phone/></c:entry>\n"
        "<entry xmlns:own=\"urn:own\"><own:email>u</own:email></entry></c:contest></c:contests>\n";
    collected c = scan_text("ns.xml", doc, entry_path, 1, DOSSIER_XML_FOR_INDEX, 0);
    const char *want_ns = " xmlns=\"urn:d\" xmlns:q=\"urn:q?a=1&amp;#38;b=2\" xmlns:c=\"urn:c2\"";
    int ok = c.rc == 0 && c.n == 2 && !strcmp(c.r[0].ns, want_ns) && !strcmp(c.r[1].ns, want_ns) &&
             !strcmp(c.r[0].href, "urn:c2") && !strcmp(c.r[1].href, "urn:d");
    check(ok, "namespace declarations of the ancestors (shadowed prefix, escaped URI): %s", c.n ? c.r[0].ns : "-");
    if (c.n == 2) {
        /* read the slices back and look at every namespace */
        const char *s0 = doc + c.r[0].off, *s1 = doc + c.r[1].off;
        dossier_xml_status st;
        xmlNodePtr r0 = dossier_xml_read_record(s0, c.r[0].len, NULL, c.r[0].ns, &st);
        xmlNodePtr r1 = dossier_xml_read_record(s1, c.r[1].len, NULL, c.r[1].ns, &st);
        int good = r0 && r1 && !strcmp(href(r0->ns), "urn:c2") && r0->properties &&
                   !strcmp(href(r0->properties->ns), "urn:c2") && r0->properties->next &&
                   !strcmp(href(r0->properties->next->ns), "urn:q?a=1&#38;b=2") &&
                   !strcmp(href(r0->children->ns), "urn:d") && !strcmp(href(r0->children->next->ns), "urn:c2") &&
                   !strcmp(href(r1->ns), "urn:d") && !strcmp(href(r1->children->ns), "urn:own");
        char *d0 = r0 ? dump(r0) : strdup("");
        good = good && !strcmp(d0, c.r[0].dump);
        check(good, "prefixed records read back with the namespaces of their ancestors: %s", d0);
        free(d0);
        dossier_xml_free_record(r0);
        dossier_xml_free_record(r1);
    }
    free_collected(&c);

    /* a prefix declared only on the root, and read back without its declaration: a namespace error */
    const char *doc2 = "<p:contests xmlns:p=\"urn:p\"><p:contest><p:entry p:a=\"1\">x</p:entry></p:contest></p:contests>";
    collected c2 = scan_text("ns2.xml", doc2, entry_path, 1, DOSSIER_XML_FOR_INDEX, 0);
    int ok2 = c2.rc == 0 && c2.n == 1 && !strcmp(c2.r[0].ns, " xmlns:p=\"urn:p\"") && !strcmp(c2.r[0].href, "urn:p");
    dossier_xml_status st;
    xmlNodePtr r = ok2 ? dossier_xml_read_record(doc2 + c2.r[0].off, c2.r[0].len, "", c2.r[0].ns, &st) : NULL;
    ok2 = ok2 && r && !strcmp(href(r->ns), "urn:p") && r->properties && !strcmp(href(r->properties->ns), "urn:p");
    dossier_xml_free_record(r);
    xmlNodePtr bare = ok2 ? dossier_xml_read_record(doc2 + c2.r[0].off, c2.r[0].len, NULL, NULL, &st) : NULL;
    check(ok2 && !bare && st.code == DOSSIER_XML_MALFORMED,
          "prefix declared on the root: record and attribute in urn:p; without the declarations: refused (%s)", st.message);
    dossier_xml_free_record(bare);
    free_collected(&c2);

    /* a default namespace undeclared again (xmlns="") above the record */
    const char *doc3 = "<contests xmlns=\"urn:a\"><contest xmlns=\"\"><entry/></contest></contests>";
    collected c3 = scan_text("ns3.xml", doc3, entry_path, 1, DOSSIER_XML_FOR_INDEX, 0);
    r = c3.n == 1 ? dossier_xml_read_record(doc3 + c3.r[0].off, c3.r[0].len, NULL, c3.r[0].ns, &st) : NULL;
    check(c3.rc == 0 && c3.n == 1 && !strcmp(c3.r[0].ns, " xmlns=\"\"") && !strcmp(c3.r[0].href, "(none)") && r &&
          !r->ns, "xmlns=\"\" on the parent: \"%s\", no namespace, read back alike", c3.n ? c3.r[0].ns : "-");
    dossier_xml_free_record(r);
    free_collected(&c3);
}

static void test_refusal(const char *name, const char *doc, int want_code, int want_line) {
    collected c = scan_text(name, doc, entry_path, 1, DOSSIER_XML_FOR_INDEX, 0);
    check(c.rc == -1 && c.st.code == want_code && c.n == 0 && (!want_line || c.st.line == want_line),
          "%s: rc %d code %d line %d: %s", name, c.rc, c.st.code, c.st.line, c.st.message);
    free_collected(&c);
}

static void test_refusals(void) {
    test_refusal("billion laughs",
                 "<?xml version=\"1.0\"?>\n<!DOCTYPE contests [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>\n"
                 "<contests><contest><entry><email>&b;</email></entry></contest></contests>\n", DOSSIER_XML_REFUSED, 2);
    test_refusal("external entity (XXE)",
                 "<?xml version=\"1.0\"?>\n<!DOCTYPE contests [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
                 "<contests><contest><entry><email>&xxe;</email></entry></contest></contests>\n", DOSSIER_XML_REFUSED, 2);
    test_refusal("parameter entity",
                 "<?xml version=\"1.0\"?>\n<!DOCTYPE contests [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/x.dtd\"> %p;]>\n"
                 "<contests><contest><entry><email>x</email></entry></contest></contests>\n", DOSSIER_XML_REFUSED, 2);
    test_refusal("undeclared parameter entity reference",
                 "<!DOCTYPE contests [\n %p;\n]>\n<contests><contest><entry/></contest></contests>\n", DOSSIER_XML_REFUSED, 0);
    test_refusal("unparsed entity",
                 "<!DOCTYPE contests [<!NOTATION gif SYSTEM \"gif\"><!ENTITY pic SYSTEM \"p.gif\" NDATA gif>]>\n"
                 "<contests><contest><entry/></contest></contests>\n", DOSSIER_XML_REFUSED, 1);
    test_refusal("external subset",
                 "<?xml version=\"1.0\"?>\n<!DOCTYPE contests SYSTEM \"http://127.0.0.1:9/x.dtd\">\n"
                 "<contests><contest><entry><email>&ext;</email></entry></contest></contests>\n", DOSSIER_XML_REFUSED, 2);
    test_refusal("external subset (PUBLIC)",
                 "<!DOCTYPE contests PUBLIC \"-//X//DTD Y//EN\" \"y.dtd\" [<!ELEMENT contests ANY>]>\n"
                 "<contests><contest><entry/></contest></contests>\n", DOSSIER_XML_REFUSED, 1);
    test_refusal("entity reference",
                 "<?xml version=\"1.0\"?>\n<contests><contest>\n<entry><email>&undeclared;</email></entry></contest></contests>\n",
                 DOSSIER_XML_REFUSED, 3);
    test_refusal("entity reference in an attribute",
                 "<contests><contest><entry a=\"&undeclared;\"/></contest></contests>\n", DOSSIER_XML_REFUSED, 1);
    test_refusal("entity reference under a DTD without it",
                 "<!DOCTYPE contests [<!ELEMENT contests ANY>]>\n<contests><contest><entry>&u;</entry></contest></contests>\n",
                 DOSSIER_XML_REFUSED, 2);

    /* predefined entities and character references are content, not refused */
    collected c = scan_text("predefined.xml",
                            "<contests><contest><entry a=\"&quot;&#x41;&#233;\">&amp;&lt;&gt;&apos;&quot;&#233;&#x1F600;</entry>"
                            "</contest></contests>", entry_path, 1, DOSSIER_XML_FOR_INDEX, 0);
    check(c.rc == 0 && c.n == 1 && !strcmp(c.r[0].dump, "<entry a=\"&quot;A&#xE9;\">&amp;&lt;&gt;'\"\xc3\xa9\xf0\x9f\x98\x80</entry>"),
          "predefined entities and character references: %s", c.n ? c.r[0].dump : c.st.message);
    free_collected(&c);
}

static void test_attlist(void) {
    const char *doc = "<?xml version=\"1.0\"?>\n"
                      "<!DOCTYPE contests [<!ELEMENT contests ANY><!ATTLIST entry email CDATA \"default@x\">]>\n"
                      "<contests><contest><entry/></contest></contests>\n";
    collected c = scan_text("attdefault.xml", doc, entry_path, 1, DOSSIER_XML_FOR_INDEX, 0);
    check(c.rc == -1 && c.st.code == DOSSIER_XML_NOT_INDEXABLE && c.n == 0,
          "ATTLIST default, for an index: code %d line %d: %s", c.st.code, c.st.line, c.st.message);
    free_collected(&c);
    c = scan_text("attdefault.xml", doc, entry_path, 1, 0, 0);
    check(c.rc == 0 && c.n == 1 && !strcmp(c.r[0].dump, "<entry/>"),
          "ATTLIST default, plain scan: read, default not in the tree (like xmlTextReaderExpand): %s",
          c.n ? c.r[0].dump : c.st.message);
    free_collected(&c);
    c = scan_text("atttype.xml", "<!DOCTYPE contests [<!ATTLIST entry id ID #IMPLIED>]>\n"
                                 "<contests><contest><entry id=\" a \"/></contest></contests>\n",
                  entry_path, 1, DOSSIER_XML_FOR_INDEX, 0);
    check(c.rc == -1 && c.st.code == DOSSIER_XML_NOT_INDEXABLE, "ATTLIST non-CDATA type, for an index: code %d: %s",
          c.st.code, c.st.message);
    free_collected(&c);
    c = scan_text("attplain.xml", "<!DOCTYPE contests [<!ELEMENT entry EMPTY><!ATTLIST entry note CDATA #IMPLIED>]>\n"
                                  "<contests><contest><entry note=\" a \"/></contest></contests>\n",
                  entry_path, 1, DOSSIER_XML_FOR_INDEX, 0);
    check(c.rc == 0 && c.n == 1, "ATTLIST CDATA #IMPLIED and ELEMENT, for an index: indexable (rc %d %s)", c.rc, c.st.message);
    free_collected(&c);
}

static void test_errors(void) {
    collected c = scan_text("malformed.xml",
                            "<contests>\n<contest>\n<entry><email>a</email></entry>\n<entry><email>b</mail></entry>\n"
                            "</contest></contests>\n", entry_path, 1, DOSSIER_XML_FOR_INDEX, 0);
    check(c.rc == -1 && c.st.code == DOSSIER_XML_MALFORMED && c.st.line == 4 && strstr(c.st.message, "mismatch") && c.n == 1,
          "well-formedness error: code %d line %d after %d record(s): \"%s\"", c.st.code, c.st.line, c.n, c.st.message);
    free_collected(&c);
    c = scan_text("empty.xml", "", entry_path, 1, 0, 0);
    check(c.rc == -1 && c.st.code == DOSSIER_XML_MALFORMED, "empty file: code %d: %s", c.st.code, c.st.message);
    free_collected(&c);
    c = scan_text("undefined_prefix.xml", "<contests><contest>\n<x:entry/></contest></contests>", entry_path, 1, 0, 0);
    check(c.rc == -1 && c.st.code == DOSSIER_XML_MALFORMED && c.st.line == 2, "undefined prefix: code %d line %d: %s",
          c.st.code, c.st.line, c.st.message);
    free_collected(&c);
    c = scan_text("undefined_prefix_inside.xml", "<contests><contest><entry/><entry>\n<y:a>t</y:a></entry></contest></contests>",
                  entry_path, 1, 0, 0);
    check(c.rc == -1 && c.st.code == DOSSIER_XML_MALFORMED && c.st.line == 2 && c.n == 1,
          "undefined prefix inside a record: code %d line %d after %d: %s", c.st.code, c.st.line, c.n, c.st.message);
    free_collected(&c);
    c = scan_text("truncated.xml", "<contests><contest><entry><email>a</email></entry><entry>", entry_path, 1, 0, 0);
    check(c.rc == -1 && c.st.code == DOSSIER_XML_MALFORMED && c.n == 1, "truncated file: code %d after %d: %s",
          c.st.code, c.n, c.st.message);
    free_collected(&c);

    dossier_xml_status st;
    int rc = dossier_xml_scan(temp_path("does-not-exist.xml"), entry_path, 1, 0, collect, NULL, &st, NULL, 0);
    check(rc == -1 && st.code == DOSSIER_XML_UNREADABLE, "missing file: code %d: %s", st.code, st.message);
    const char *bad[] = { "contests/entry" };
    c = scan_text("any.xml", "<a/>", bad, 1, 0, 0);
    check(c.rc == -1 && c.st.code == DOSSIER_XML_INVALID_ARGUMENT, "relative path: code %d: %s", c.st.code, c.st.message);
    free_collected(&c);
    const char *bad2[] = { "/contests//entry" };
    c = scan_text("any.xml", "<a/>", bad2, 1, 0, 0);
    check(c.rc == -1 && c.st.code == DOSSIER_XML_INVALID_ARGUMENT, "empty path component: code %d", c.st.code);
    free_collected(&c);

    /* the callback stops the scan */
    c = scan_text("stop.xml", "<contests><contest><entry/><entry/><entry/></contest></contests>", entry_path, 1, 0, 2);
    check(c.rc == 7 && c.n == 2 && c.st.code == DOSSIER_XML_OK, "callback stops the scan: rc %d after %d records", c.rc, c.n);
    free_collected(&c);

    /* the root itself as the record */
    const char *root_path[] = { "/contests" };
    c = scan_text("root.xml", "<?xml version=\"1.0\"?>\n<contests a=\"1\"><x/></contests>\n", root_path, 1, 0, 0);
    check(c.rc == 0 && c.n == 1 && c.r[0].off == 22 && c.r[0].len == strlen("<contests a=\"1\"><x/></contests>"), "the root element as a record: off %llu len %llu",
          c.n ? (unsigned long long)c.r[0].off : 0ULL, c.n ? (unsigned long long)c.r[0].len : 0ULL);
    free_collected(&c);
}

static void test_read_back_refusals(void) {
    struct { const char *bytes, *ns; int code; } cases[] = {
        { "<a>", NULL, DOSSIER_XML_MALFORMED },
        { "<a/><b/>", NULL, DOSSIER_XML_MALFORMED },
        { " <a/>", NULL, DOSSIER_XML_MALFORMED },
        { "<a/>x", NULL, DOSSIER_XML_MALFORMED },
        { "text", NULL, DOSSIER_XML_MALFORMED },
        { "<!-- c --><a/>", NULL, DOSSIER_XML_MALFORMED },
        { "<a></b>", NULL, DOSSIER_XML_MALFORMED },
        { "<?xml version=\"1.0\"?><a/>", NULL, DOSSIER_XML_MALFORMED },
        { "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", NULL, DOSSIER_XML_MALFORMED },
        { "<a>&e;</a>", NULL, DOSSIER_XML_REFUSED },
        { "<a b=\"&e;\"/>", NULL, DOSSIER_XML_REFUSED },
        { "<p:a/>", NULL, DOSSIER_XML_MALFORMED },
        { "<a/>", " xmlns:p=\"unterminated", DOSSIER_XML_INVALID_ARGUMENT },
    };
    int n = (int)(sizeof cases / sizeof cases[0]), good = 0;
    for (int i = 0; i < n; i++) {
        dossier_xml_status st;
        xmlNodePtr r = dossier_xml_read_record(cases[i].bytes, strlen(cases[i].bytes), NULL, cases[i].ns, &st);
        if (!r && st.code == cases[i].code) good++;
        else printf("     read-back of %s: record %p code %d (want %d): %s\n", cases[i].bytes, (void *)r, st.code,
                    cases[i].code, st.message);
        dossier_xml_free_record(r);
    }
    check(good == n, "read-back refuses what is not exactly one well-formed element: %d/%d", good, n);
    dossier_xml_status st;
    const char *u16 = "<\0a\0/\0>\0";
    xmlNodePtr r = dossier_xml_read_record(u16, 8, "UTF-16LE", "", &st);
    check(r && !strcmp((const char *)r->name, "a"), "read-back of a UTF-16LE slice");
    dossier_xml_free_record(r);
    r = dossier_xml_read_record("<a/>", 4, "NO-SUCH-ENCODING", "", &st);
    check(!r && st.code == DOSSIER_XML_INVALID_ARGUMENT, "read-back with an unknown encoding: %s", st.message);
}

/* ---------------------------------------------------------------------------------------------- */

static int count_record(void *ctx, int path_index, uint64_t offset, uint64_t length, xmlNodePtr record, const char *ns) {
    (void)path_index; (void)offset; (void)length; (void)record; (void)ns;
    (*(long *)ctx)++;
    return 0;
}

static int count_main(const char *file, const char *path, int runs) {
    struct stat sb;
    if (stat(file, &sb)) { printf("FAIL cannot stat %s\n", file); return 1; }
    double best = 1e9;
    long n = 0;
    for (int i = 0; i < runs; i++) {
        n = 0;
        dossier_xml_status st;
        const char *paths[] = { path };
        double t0 = now();
        int rc = dossier_xml_scan(file, paths, 1, DOSSIER_XML_FOR_INDEX, count_record, &n, &st, NULL, 0);
        double t = now() - t0;
        if (rc) { printf("FAIL scan of %s: %d %s\n", file, st.code, st.message); return 1; }
        if (t < best) best = t;
    }
    printf("%s: %ld records, %.1f MB in %.3fs: %.0f MB/s (best of %d)\n", file, n, sb.st_size / 1e6, best,
           sb.st_size / 1e6 / best, runs);
    return 0;
}

int main(int argc, char **argv) {
    xmlInitParser();
    if (argc >= 4 && !strcmp(argv[1], "count")) return count_main(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 1);
    if (argc < 3 || (strcmp(argv[1], "all") && strcmp(argv[1], "cases"))) {
        printf("usage: test_xml_index all|cases DATADIR | count FILE PATH [RUNS]\n");
        return 2;
    }
    const char *dir = argv[2];
    snprintf(tmpdir, sizeof tmpdir, "%s/cases", dir);
    mkdir(tmpdir, 0755);

    test_two_paths();
    test_namespaces();
    test_refusals();
    test_attlist();
    test_errors();
    test_read_back_refusals();
    if (!strcmp(argv[1], "cases")) goto end;

    test_truth_file(dir, "small.xml", "");
    test_truth_file(dir, "ns.xml", "");
    test_truth_file(dir, "nslatin2.xml", "ISO-8859-2");
    test_truth_file(dir, "latin2.xml", "ISO-8859-2");
    test_truth_file(dir, "utf16.xml", "UTF-16LE");
    test_truth_file(dir, "big.xml", "");
    test_threads(dir, "small.xml", "latin2.xml");
end:

    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
