/* libxml2 is built with ICU, and its encoding.h would pull the system's ICU headers into Swift,
   where they clash with Foundation's own ICU. Dossier never touches the ICU-dependent struct
   fields (xmlCharEncodingHandler's converters), so the declarations are left out. */
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/xmlreader.h>
#include <libxml/xmlwriter.h>
#include <libxml/tree.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

/* xmlFree is a global function pointer: Swift 6 strict concurrency cannot touch it. */
static inline void dossier_xml_free(void *p) { xmlFree(p); }
